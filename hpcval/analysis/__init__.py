"""hpcval analysis: ReFrame run reports -> tidy frame -> tables, figures, reports.

A pure library: no subprocesses, no ReFrame import.  It reads files and
returns frames, figures and documents.
"""
