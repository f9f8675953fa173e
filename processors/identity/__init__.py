"""Member identity resolution (ARCHITECTURE.md, Semantics: Member)."""

from processors.identity.resolver import (
    IDENTITY_ATTRIBUTES,
    DirectoryEntry,
    DirectoryFileError,
    IdentityResolver,
    load_directory,
)

__all__ = ["IDENTITY_ATTRIBUTES", "DirectoryEntry", "DirectoryFileError", "IdentityResolver", "load_directory"]
