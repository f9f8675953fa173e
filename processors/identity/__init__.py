"""Member identity resolution (ARCHITECTURE.md, Semantics: Member)."""

from processors.identity.resolver import DirectoryEntry, DirectoryFileError, IdentityResolver, load_directory

__all__ = ["DirectoryEntry", "DirectoryFileError", "IdentityResolver", "load_directory"]
