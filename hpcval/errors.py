"""The faults hpcval reports as exit code 2: a user's mistake or bad input, one line each.

Every layer raises its own subclass of HpcvalError (containers.errors,
cluster.errors); the command line maps them all to exit code 2 and
anything else to 3 (a bug).
"""


class HpcvalError(Exception):
    '''A fault of the input or the request, not of hpcval: one line on stderr, exit code 2.'''


class UsageError(HpcvalError):
    '''Bad arguments or a request that cannot be carried out.'''


class InputError(HpcvalError):
    '''Bad input: carries the file and the fault, for a one-line message.'''

    def __init__(self, path, fault):
        super().__init__(f'{path}: {fault}')
        self.path = str(path)
        self.fault = fault
