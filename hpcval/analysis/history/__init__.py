"""Result history: a store of tidy-frame values across sessions, trends and change points.

sessions      tags and values of a run report, prepared for the store
store         the SQLite file: add (atomic, idempotent), load, values, trend points
changepoints  change points on the trends, judged by the better direction
report        the trend figures and the history report

The store
---------
One SQLite file (stdlib ``sqlite3``; default ``.cache/history.sqlite``, chosen by
the command line).  Why SQLite rather than ReFrame's own results storage or
Parquet files of the tidy frame:

* ``add`` must be atomic and idempotent.  SQLite gives both for free: every
  ``add`` is one transaction (all of its sessions or none; a crash or a bad
  row leaves the store as it was), and the session uuid is a UNIQUE key, so
  re-adding a run report adds nothing.  A new store is built in a temporary
  file and linked into place, so not even an empty store is left behind by a
  failed first ``add``.  Parquet would need a file per add plus our own
  de-duplication and locking.
* ``history show CHECK`` reads one check out of thousands of sessions:
  indexes on (check, pvar) and on the series id answer that without reading
  the rest.  Readers never block each other; a writer takes the lock for the
  few hundred milliseconds of its transaction (busy timeout 30 s).
* ReFrame's results storage (``--store-results``, also SQLite) holds whole
  JSON reports per session and is written only by ReFrame itself while it
  runs: it cannot take reports from other machines or older runs, and every
  query would re-parse the JSON.  ``analysis/`` also must not import ReFrame.
* It is one portable file, readable by any SQLite client (``sqlite3`` CLI,
  pandas ``read_sql``), with a ``meta`` table naming the schema version.

Tables: ``meta(key, value)``; ``sessions`` (uuid UNIQUE, start time, hostname,
user, cmdline, ReFrame version, source path, tags as JSON, when added);
``series`` (system, partition, environ, check, case, pvar, unit UNIQUE;
better); ``results`` (session id, series id, run index, result, value,
num_nodes, usable, completion time): one row per value of the tidy frame,
failed cases included (pvar '' when a failed case reported no value);
``points`` (series id, session id, median, runs): the trends, computed once
when the session is added, so that ``show`` reads one number per session and
series.

Tags are every ``session_info`` key ReFrame does not reserve, i.e. what
``reframe --session-extras k=v,...`` added: ``hpcval_campaign``,
``hpcval_git``, and the user's own labels (``os_patch=...``,
``image_openmpi=<digest>``).  Secrets are redacted before anything is stored,
by key name and by value (hpcval/redact.py): tags, the command line, hosts.

Trends and change points
------------------------
A series is one (system, partition, environ, check, case, pvar, unit); its
trend is the median of the usable values of each session, ordered by the
session's start time.  Change points are found on log(median) (so the noise
scale and the threshold are relative, whatever the unit) by ``ruptures``:
``KernelCPD(kernel='linear')`` -- exact PELT search (Killick et al. 2012) for
the least-squares (``l2``) cost, ruptures' C implementation -- with

* minimum segment length ``MIN_SEGMENT`` = 3 sessions (no change point from
  one odd session);
* penalty ``pen = PENALTY_BETA * sigma^2 * log(n)`` (the BIC-type penalty
  that ruptures' documentation gives for the l2 cost, ``log(n) * sigma^2``,
  made four times stricter), with ``sigma`` the robust noise of the series:
  1.4826 * MAD of the first differences / sqrt(2), which a level shift
  barely moves (unlike the MAD of the values themselves); beta = 4 keeps pure
  noise free of change points while a 20 % step is still found near its place
  (benchmarks/RESULTS.md, "history: change points");
* then every change whose segment medians differ by less than the practical
  threshold (default ``DEFAULT_THRESHOLD`` = 5 %) is merged away, smallest
  first, recomputing the neighbouring medians each time: a statistically
  clear but practically irrelevant shift is no change point.

Each change point names the session it starts at (uuid, start time,
hostname, tags and the tags that differ from the session before), the
medians of the segments before and after, and the relative shift
after/before - 1, judged by the pvar's ``better`` direction.
"""
from hpcval.analysis.history.sessions import SERIES_KEY, Prepared, format_tags, prepare, tags_of  # noqa: F401
from hpcval.analysis.history.store import (BUSY_TIMEOUT_S, SCHEMA_VERSION, Added, History, add,  # noqa: F401
                                           busy_timeout, checks, load, medians, open_store, trends, values)
from hpcval.analysis.history.changepoints import (DEFAULT_THRESHOLD, MIN_SEGMENT, NOISE_FLOOR,  # noqa: F401
                                                  PENALTY_BETA, ChangePoint, analyse, change_points,
                                                  detect_all, noise_sigma, verdict)
from hpcval.analysis.history.report import MAX_FIGURES, TrendFigure, build, draw_all, render  # noqa: F401
