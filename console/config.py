"""The console's options (api.port, console.*) and its config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.auth import AuthSettings
from pdata.options import Option, OptionValues, check_port, config_from_rows, require_at_least

# The console's rows of the collector's option table (README.md). It reads the collector's `data_dir` too:
# the access file is kept there unless console.access_file says otherwise.
OPTIONS: tuple[Option, ...] = (
    Option("api.port", int, 8080, "analytics API port"),
    Option("api.kept_answers", int, 256, "analytics answers kept in memory until a commit changes their organization's rows, so a question asked again meanwhile (a console left open, a wall display, a script polling) costs no query; 0 keeps none; none are kept with a ClickHouse server DSN, where other collectors commit too (see console/README.md)"),
    Option("console.access_file", str, "", "YAML file of console principals (managed by `cc-analytics access`); empty means <data_dir>/access.yaml"),
    Option("console.trusted_header", str, "", "request header naming the signed-in principal, set by a reverse proxy doing single sign-on (e.g. X-Forwarded-Email); empty trusts no header"),
    Option("console.session_hours", int, 12, "how long a console sign-in lasts"),
    Option("console.cookie_secure", bool, False, "mark the session cookie Secure (set when the console is served over https)"),
    Option("console.initial_owner_token_file", str, "", "file holding the first Primary Owner's token, or sha256:<hex digest> of it, used on a first start with no principals instead of printing a login URL"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    access_file: Path
    port: int = 8080
    # Analytics answers kept until a commit changes them (console/answers.py); 0 keeps none.
    kept_answers: int = 256
    trusted_header: str = ""
    session_hours: int = 12
    cookie_secure: bool = False
    # The first Primary Owner's token (or sha256:<digest>) on a first start with no principals ("" = print a
    # login URL instead).
    initial_owner_token_file: str = ""

    @classmethod
    def from_options(cls, values: OptionValues) -> ConsoleConfig:
        access_file = values["console.access_file"]
        return config_from_rows(
            cls,
            OPTIONS,
            values,
            ("api.", "console."),
            access_file=Path(access_file) if access_file else Path(values["data_dir"]) / "access.yaml",
        )

    def validate(self) -> None:
        """Raises ConfigError naming the option and what is wrong."""
        check_port("api_port", self.port)
        require_at_least("api.kept_answers", self.kept_answers, 0)
        require_at_least("console.session_hours", self.session_hours, 1)

    def auth_settings(self) -> AuthSettings:
        return AuthSettings(
            session_hours=self.session_hours, cookie_secure=self.cookie_secure, trusted_header=self.trusted_header
        )
