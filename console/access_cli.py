"""`cc-analytics access add|list|revoke|rotate`: manage console principals in the access file.

New and rotated tokens are printed once on stdout; the file keeps only their SHA-256.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.access import AccessError, AccessStore
from console.roles import ROLES


def add_parser(commands: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Adds `access` and its actions; returns the action parsers, for the caller to add common options."""
    access = commands.add_parser("access", help="manage who may sign in to the console and API")
    actions = access.add_subparsers(dest="access_command", required=True)
    add = actions.add_parser("add", help="create a principal and print its token once")
    add.add_argument("principal_name", metavar="NAME", help="who this is, e.g. an email address")
    add.add_argument("--role", required=True, help="one of: " + ", ".join(ROLES))
    listing = actions.add_parser("list", help="list principals (never their tokens)")
    revoke = actions.add_parser("revoke", help="delete a principal; its token and sessions stop working at once")
    revoke.add_argument("principal_name", metavar="NAME_OR_ID")
    rotate = actions.add_parser("rotate", help="replace a principal's token and print the new one once")
    rotate.add_argument("principal_name", metavar="NAME_OR_ID")
    return [add, listing, revoke, rotate]


def run(arguments: argparse.Namespace, access_file: Path) -> int:
    try:
        store = AccessStore(access_file)
        if arguments.access_command == "add":
            principal, token = store.add(arguments.principal_name, arguments.role)
            print(f"added {principal.name} ({ROLES[principal.role]}), id {principal.id}")
            print(f"token (shown once): {token}")
        elif arguments.access_command == "list":
            print(f"{'id':<16} {'role':<18} {'created':<21} name")
            for principal in store.principals():
                print(f"{principal.id:<16} {ROLES[principal.role]:<18} {principal.created_at:<21} {principal.name}")
        elif arguments.access_command == "revoke":
            principal = store.revoke(arguments.principal_name)
            print(f"revoked {principal.name} ({principal.id})")
        elif arguments.access_command == "rotate":
            principal, token = store.rotate(arguments.principal_name)
            print(f"rotated {principal.name} ({principal.id}); the old token no longer works")
            print(f"token (shown once): {token}")
    except (AccessError, ValueError) as exc:
        print(f"cc-analytics access: {exc}", file=sys.stderr)
        return 2
    return 0
