"""HPC Challenge (HPCC 1.5): its input file, and the summary of its output file.

HPCC reads ``hpccinf.txt`` from its working directory (HPL's input format
followed by PTRANS's lines) and writes ``hpccoutf.txt`` there; the output ends
with a ``Begin of Summary section.`` .. ``End of Summary section.`` block of
``Name=value`` lines, which is what is read here.  The HPL problem is sized
to the rank count: N grows with the square root of the ranks (the matrix per
rank stays the same size, as a site fills its memory) and the P x Q grid is
the most nearly square one with P <= Q.
"""
import math
import re

#: Debian's hpcc sample input (/usr/share/doc/hpcc/examples/_hpccinf.txt), N, NB, P and Q filled in
INPUT = '''HPLinpack benchmark input file
Innovative Computing Laboratory, University of Tennessee
HPL.out      output file name (if any)
8            device out (6=stdout,7=stderr,file)
1            # of problems sizes (N)
{n}         Ns
1            # of NBs
{nb}           NBs
0            PMAP process mapping (0=Row-,1=Column-major)
1            # of process grids (P x Q)
{p}            Ps
{q}            Qs
16.0         threshold
1            # of panel fact
2            PFACTs (0=left, 1=Crout, 2=Right)
1            # of recursive stopping criterium
4            NBMINs (>= 1)
1            # of panels in recursion
2            NDIVs
1            # of recursive panel fact.
1            RFACTs (0=left, 1=Crout, 2=Right)
1            # of broadcast
1            BCASTs (0=1rg,1=1rM,2=2rg,3=2rM,4=Lng,5=LnM)
1            # of lookahead depth
1            DEPTHs (>=0)
2            SWAP (0=bin-exch,1=long,2=mix)
64           swapping threshold
0            L1 in (0=transposed,1=no-transposed) form
0            U  in (0=transposed,1=no-transposed) form
1            Equilibration (0=no,1=yes)
8            memory alignment in double (> 0)
##### This line (no. 32) is ignored (it serves as a separator). ######
0                               Number of additional problem sizes for PTRANS
1200 10000 30000                values of N
0                               number of additional blocking sizes for PTRANS
40 9 8 13 13 20 16 32 64        values of NB
'''

_SUMMARY = re.compile(r'^Begin of Summary section\.\s*$(.*?)^End of Summary section\.', re.M | re.S)
_RESIDUAL = re.compile(r'^\|\|Ax-b\|\|_oo/\(eps\*.*=\s*(\S+)\s*\.+\s*(PASSED|FAILED)\s*$', re.M)

#: pvar -> (summary key, unit, factor): what a case records.  ``hpl``: the whole machine's
#: rate (the Top500 figure); the Star* figures are per rank, every rank running at once
FIGURES = {
    'hpl': ('HPL_Tflops', 'GFLOP/s', 1000.0),
    'dgemm': ('StarDGEMM_Gflops', 'GFLOP/s', 1.0),
    'stream_triad': ('StarSTREAM_Triad', 'GB/s', 1.0),
    'ptrans': ('PTRANS_GBs', 'GB/s', 1.0),
    'random_access': ('MPIRandomAccess_GUPs', 'GUP/s', 1.0),
    'fft': ('MPIFFT_Gflops', 'GFLOP/s', 1.0),
}


def grid(ranks):
    '''(P, Q): P x Q = ranks, the most nearly square with P <= Q.'''
    p = max(d for d in range(1, math.isqrt(ranks) + 1) if ranks % d == 0)
    return p, ranks // p


def problem_size(ranks, n_one_rank, nb):
    '''HPL's N for ``ranks``: ``n_one_rank`` x sqrt(ranks), a multiple of ``nb``.'''
    return max(nb, nb * round(n_one_rank * math.sqrt(ranks) / nb))


def input_text(n, nb, p, q):
    return INPUT.format(n=n, nb=nb, p=p, q=q)


def summary(text):
    '''The summary block as {name: float or str}; {} when there is none (HPCC did not finish).'''
    m = _SUMMARY.search(text)
    if not m:
        return {}
    out = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.strip().partition('=')
        if sep:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def figures(values):
    '''pvar -> value of ``FIGURES`` found in a summary (negative figures are HPCC's "not run").'''
    out = {}
    for pvar, (key, _, factor) in FIGURES.items():
        v = values.get(key)
        if isinstance(v, float) and v >= 0:
            out[pvar] = v * factor
    return out


def problems(text, ranks, n, p, q):
    '''Why a run does not count: no summary, HPCC's own failure, a residual check
    that failed, or a run of another size or grid than asked for.'''
    values = summary(text)
    if not values:
        return ['no HPCC summary in hpccoutf.txt (HPCC did not finish)']
    found = []
    if values.get('Success') != 1.0:
        found.append(f'HPCC reports Success={values.get("Success")}')
    residuals = _RESIDUAL.findall(text)
    if not residuals:
        found.append('no HPL residual check in the output')
    elif any(verdict != 'PASSED' for _, verdict in residuals):
        found.append('the HPL residual check FAILED (' + ', '.join(r for r, v in residuals if v != 'PASSED') + ')')
    asked = {'CommWorldProcs': ranks, 'HPL_N': n, 'HPL_nprow': p, 'HPL_npcol': q}
    for key, want in asked.items():
        if values.get(key) != float(want):
            found.append(f'{key}={values.get(key)}, expected {want}')
    missing = [pvar for pvar in FIGURES if pvar not in figures(values)]
    if 'hpl' in missing:
        found.append('no HPL rate (HPL_Tflops) in the summary')
    return found
