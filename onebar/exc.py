"""The exceptions Onebar raises. Callers catch :class:`OnebarError`."""


class OnebarError(Exception):
    """Base class of every error Onebar raises on purpose."""


class ConfigError(OnebarError):
    """The settings are invalid or the data directory cannot be used."""


class StoreError(OnebarError):
    """The store could not do what was asked."""


class StoreBusy(StoreError):
    """The store is locked by another writer; the caller may retry shortly."""


class DuplicateError(StoreError):
    """A record with the same unique key (an email, an app id) exists."""


class NotFound(StoreError):
    """The record asked for does not exist."""


class ServiceBusy(OnebarError):
    """Too much expensive work at once (password hashing): the caller may retry shortly."""


class ValidationError(OnebarError):
    """An input value (an email, an app URL, a name) is not acceptable."""
