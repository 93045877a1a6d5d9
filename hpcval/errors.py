class UsageError(Exception):
    '''Bad arguments or input: one line on stderr, exit code 2.'''
