"""The errors of loading a file."""
import pickle

__all__ = ['LoadError', 'FileMissingError', 'UnsafeFileError']


class LoadError(RuntimeError):
    """A file cannot be loaded: it is missing, truncated, corrupt or of another format.
    The message names the file and says what is wrong with it."""


class UnsafeFileError(LoadError, pickle.UnpicklingError):
    """A pickle in the file asks for something other than data (a function to call, a
    class to build), which minidl refuses to load because loading it would run code.
    Also a ``pickle.UnpicklingError``, as PyTorch's ``weights_only`` refusal is."""


class FileMissingError(LoadError, FileNotFoundError):
    """The file to load does not exist. Also a ``FileNotFoundError``, which is what
    ``torch.load`` raises and what resume code catches."""
