"""Where a loaded array goes: the device it was saved from, or what ``map_location`` says."""
from ..backend import Device, is_array, to_device
from .errors import LoadError

__all__ = ['place']


def _target(location, map_location):
    if map_location is None:
        return location
    if isinstance(map_location, dict):   # {'cuda:0': 'cpu'}: rename some locations
        return map_location.get(location, location)
    return map_location


def place(array, location, map_location, what):
    """``array`` (NumPy) moved to where ``map_location`` sends an array saved on
    ``location`` ('cpu', 'cuda:0'). ``map_location`` is None (back where it was saved),
    a device or its name, a dict from saved location to device, or a function
    ``(array, location) -> array``, as in ``torch.load``."""
    if callable(map_location) and not isinstance(map_location, (str, Device, dict)):
        moved = map_location(array, location)
        if not is_array(moved):
            raise TypeError(f'{what}: map_location returned a {type(moved).__name__}; it '
                            f'must return an array (e.g. its first argument, for the CPU)')
        return moved
    target = _target(location, map_location)
    try:
        device = Device(target if isinstance(target, Device) else str(target))
        return to_device(array, device)
    except (TypeError, ValueError, RuntimeError) as err:
        raise LoadError(f"{what}: a tensor saved on {location!r} cannot go to {target!r} "
                        f"({err}); load it with map_location='cpu'") from None
