"""The image pipeline's faults that are the caller's to fix (exit code 2 on the command line)."""
from hpcval.errors import HpcvalError


class ImageError(HpcvalError):
    '''A recipe, image or image folder that cannot be used as asked.'''
