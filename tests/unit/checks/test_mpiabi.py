"""Whether an image's MPI can take the host's: soname, vendor, version."""
import pytest

from common import mpiabi

OMPI = 'Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev: v4.1.4, May 26, 2022'


@pytest.mark.parametrize('line, expect', [
    (OMPI, ('Open MPI', (4, 1, 4))),
    ('MPICH Version:\t4.0.2', ('MPICH', (4, 0, 2))),
    ('Intel(R) MPI Library 2021.10 for Linux* OS', ('Intel MPI', (2021, 10))),
    ('MPI VERSION    : CRAY MPICH version 8.1.28.2 (ANL base 3.4a2)', ('Cray MPICH', (8, 1, 28))),
    ('MVAPICH2 Version      :\t2.3.7', ('MVAPICH', (2, 3, 7))),
    ('something else', (None, None)),
])
def test_vendor_and_version(line, expect):
    assert mpiabi.vendor(line) == expect


def _side(soname, library):
    return {'soname': soname, 'library': library}


def test_same_open_mpi_is_compatible():
    assert mpiabi.compatible(_side('libmpi.so.40', OMPI), _side('libmpi.so.40', OMPI)) == (True, '')


def test_an_older_image_mpi_runs_on_a_newer_host():
    old = _side('libmpi.so.40', 'Open MPI v4.0.3, package: Debian')
    assert mpiabi.compatible(old, _side('libmpi.so.40', OMPI))[0]


def test_a_newer_image_mpi_than_the_host_is_refused_with_the_reason():
    new = _side('libmpi.so.40', 'Open MPI v4.2.0')
    ok, why = mpiabi.compatible(new, _side('libmpi.so.40', OMPI))
    assert not ok and 'newer Open MPI' in why and '4.2.0' in why


def test_mpich_image_with_open_mpi_host_names_both_sonames():
    ok, why = mpiabi.compatible(_side('libmpich.so.12', 'MPICH Version: 4.0.2'), _side('libmpi.so.40', OMPI))
    assert not ok and 'libmpich.so.12' in why and 'libmpi.so.40' in why and 'different sonames' in why
    assert '\n' not in why


def test_mpich_abi_family_members_are_compatible():
    assert mpiabi.compatible(_side('libmpi.so.12', 'MPICH Version: 4.0.2'),
                             _side('libmpi.so.12', 'Intel(R) MPI Library 2021.10'))[0]


def test_no_mpi_in_the_image():
    ok, why = mpiabi.compatible(_side('none', ''), _side('libmpi.so.40', OMPI))
    assert not ok and 'no MPI library' in why


def test_probe_lines():
    text = ('# MPI soname: libmpi.so.40\n# MPI Library: ' + OMPI + '\n# MPI Library Path: /opt/hostmpi/lib/x\n'
            '# MPI World: 2\n# Own MPI soname: libmpich.so.12\n# Own MPI Library: MPICH Version: 4.0.2\n')
    found = mpiabi.parse_probe(text)
    assert found['world'] == '2' and mpiabi.own(found) == _side('libmpich.so.12', 'MPICH Version: 4.0.2')
