"""Member identity resolution (ARCHITECTURE.md, Semantics: Member)."""

from processors.identity.resolver import DirectoryEntry, IdentityResolver, load_directory

__all__ = ["DirectoryEntry", "IdentityResolver", "load_directory"]
