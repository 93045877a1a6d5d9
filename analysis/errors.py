class InputError(Exception):
    '''Bad input: carries the file and the fault, for a one-line message.'''

    def __init__(self, path, fault):
        super().__init__(f'{path}: {fault}')
        self.path = str(path)
        self.fault = fault
