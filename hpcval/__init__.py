"""hpcval: the command line over ReFrame checks and the analysis library."""
__version__ = '0.1.0'
