"""The data profile: what one aggregate query per table measures of its columns.

Every measure is an aggregate the server computes (`count(*) FILTER (WHERE ...)`, `min`,
`max`, `bit_or`), so no row value ever reaches pgvitals: only counts, lengths and which
of the configured placeholder values occur. All the measures of one table share one
scan, whatever the number of rules that read them (snapshot/probes.py names which
measures each probe adds).

Small tables are read whole and counted exactly. Large ones are read through
`TABLESAMPLE SYSTEM` (whole pages; the cost follows the sample, not the table) with a
fixed `REPEATABLE` seed, so that two runs over unchanged data read the same sample and
a difference between them is a difference in the data. The sample is grouped by page,
and each ratio's 95 % margin of error comes from how much the pages differ (a cluster
sample: rows of one page are alike when the data was loaded in order, and then the
margin is wider than for as many independent rows).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pgvitals.snapshot.facts import TEXT_TYPES, time_named_integer
from pgvitals.snapshot.model import Column, ColumnProfile, Table

# What placeholder-values counts by default: text standing for "no value", compared
# after trimming, in lower case.
DEFAULT_PLACEHOLDERS = (
    "null", "undefined", "none", "nil", "nan", "n/a", "na", "tbd", "todo", "-", "--", "?",
)  # fmt: skip
# bit_or over 1 << position keeps which placeholders occur in one int8
MAX_PLACEHOLDERS = 63
STRING_TYPES = TEXT_TYPES | {"citext"}
# PostgreSQL allows 1,664 select-list items; a sampled query has up to three per
# measure, so very wide tables are read in several queries over the same sample.
MAX_ITEMS = 1500
Z_95 = 1.96

# Columns whose values must never be readable by the database's readers, by the words
# of their names (`password`, `passwd_hash`, `userPassword`) ...
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "passphrase"})
# ... and secrets that authenticate someone, which may need to be readable (a webhook
# secret signs requests; an OAuth token calls another service)
SECRET_WORDS = frozenset({"secret", "token", "apikey"})
SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})
# ... and a column named only `key` in a table of credentials or API keys: the key a
# caller presents (Kong's keyauth_credentials.key, an API key as issued)
KEY_TABLE_WORDS = frozenset({"credential", "credentials", "apikey", "apikeys"})
KEY_TABLE_PAIRS = frozenset({("api", "key"), ("api", "keys")})
# ... and a password of another system, which the application must read to present it
# there (cal.com's meetingPassword, sent to a meeting's attendees; an SMTP password): a
# secret, not a user's password stored as typed
OTHER_SYSTEMS = frozenset(
    {"meeting", "smtp", "imap", "pop3", "mail", "ftp", "sftp", "proxy", "wifi", "ldap",
     "bind", "db", "database", "vpn", "ssh", "keystore", "truststore"}
)  # fmt: skip
# Words that say the column is about a password, not one: hint, policy, expiry, salt, a
# masked copy for display (trigger.dev's obfuscatedToken), how it is provisioned, where it
# belongs (Drone's orgsecrets.secret_namespace: the organisation) ...
NOT_A_CREDENTIAL = frozenset(
    {"hint", "question", "answer", "policy", "strength", "length", "rule", "rules", "expires",
     "expiry", "expiration", "salt", "algorithm", "algo", "method", "type", "version",
     "iterations", "format", "status", "required", "changed", "reset", "at", "on", "date",
     "time", "count", "attempts", "sent", "url", "name", "id", "kind", "scope", "scopes",
     "last4", "prefix", "label", "encrypted", "iv", "nonce", "obfuscated", "masked",
     "redacted", "provisioning", "namespace"}
)  # fmt: skip
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# Value shapes, as POSIX regular expressions for the server (anchored, so a value fails
# at its first characters). Passed as parameters: never spliced into SQL.
PATTERNS = {
    "email": r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$",
    # a formatted phone number: digits with + ( ) - . or spaces, 7 to 15 digits
    "phone": r"^\+?\(?[0-9][0-9 ().-]{5,22}[0-9]$",
    "phone_separator": r"[ ()+.-]",
    "not_phone": (
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|^[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4}$"
        r"|^[0-9]{1,3}(\.[0-9]{1,3}){3}$|^[0-9]+\.[0-9]+$"
    ),
    "ipv4": r"^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$",
    "ipv6": r"^[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}(/[0-9]{1,3})?$",
    "ipv6_group": r"::|[0-9A-Fa-f]{3}",
    # a US social security number or a UK national insurance number
    "national_id": (
        r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"
        r"|^[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]$"
    ),
    # slow, salted password hashes: bcrypt, argon2, scrypt, yescrypt, sha-crypt,
    # phpass, PBKDF2 (crypt style, Django, passlib, Werkzeug), with Django's prefix;
    # MediaWiki's `:<type>:` (`:pbkdf2:sha512:30000:64:<salt>:<hash>`, `:argon2:$argon2id$`,
    # `:bcrypt:`, the layered `:pbkdf2-legacyB:` that wraps its old MD5 ones)
    "slow_hash": (
        r"^([a-z0-9_]+\$)?\$?(2[abxy]?|argon2(i|d|id)|scrypt|7|5|6|y|gy|P|H"
        r"|bcrypt-sha256|pbkdf2(-sha(1|256|512))?)\$"
        r"|^pbkdf2_sha(1|256|512)\$[0-9]+\$|^(pbkdf2:sha(1|256|512)|scrypt):[0-9]"
        r"|^:(pbkdf2|pbkdf2-legacy[AB]|argon2|bcrypt):"
    ),
    # a Bitwarden cipher string (`2.<iv>|<data>|<mac>`, `4.<rsa-oaep>`, types 0 to 6, parts
    # in base64): ciphertext a client made with a key the server never holds (Vaultwarden's
    # users.private_key, auth_requests.master_password_hash), not a value stored as typed
    "encrypted": r"^[0-6]\.[A-Za-z0-9+/]{16,}={0,2}(\|[A-Za-z0-9+/]{16,}={0,2}){0,2}$",
    # ciphertext an application made with a key kept outside the database, as Node's
    # createCipheriv gives it in hex: `<iv>:<ciphertext>` with a 12- or 16-byte iv, and
    # GCM's 16-byte tag after it (formbricks' symmetricEncrypt, hoppscotch's InfraConfig).
    # A salted fast digest (`<salt>:<sha256>`) has the same shape: no password hash either
    "ciphertext": r"^([0-9a-fA-F]{24}|[0-9a-fA-F]{32}):([0-9a-fA-F]{2}){8,}(:[0-9a-fA-F]{32})?$",
    # a bytea value as `encode(..., 'escape')` shows it, when every byte is printable ASCII
    # (a backslash shows doubled): text someone typed, not a raw digest or ciphertext
    "typed": r"^([ -[]|[]-~]|\\\\)*$",
    # the whole value names a secret kept elsewhere, filled in where it is used: a Zabbix
    # user macro ({$VMWARE.PASSWORD}), an environment or template variable (${DB_PASS},
    # {{ vault_password }})
    "reference": r"^(\{\$[^{}]+\}|\$\{[^{}]+\}|\{\{[^{}]+\}\})$",
    # fast digests, unsalted or barely salted: hex md5/sha1/sha256/sha512, also behind the
    # label of the scheme that made it (Tiny Tiny RSS's `SHA1:<sha1>` and `MODE2:<sha256 of
    # salt and password>`), md5-crypt, LDAP {SHA} / {SSHA} / {MD5}, MediaWiki's old MD5
    # (`:A:<md5>`, salted `:B:<salt>:<md5>`)
    "fast_digest": (
        r"^([A-Za-z][A-Za-z0-9_-]{0,15}:)?"
        r"([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$"
        r"|^(\$1\$|\$apr1\$|\{S?SHA[0-9]*\}|\{S?MD5\})"
        r"|^:A:[0-9a-fA-F]{32}$|^:B:[0-9a-fA-F]+:[0-9a-fA-F]{32}$"
    ),
    # the same digests base64-encoded (standard or URL-safe, padded or not): 16, 20, 28,
    # 32, 48 and 64 bytes (MD5, SHA-1, SHA-224, SHA-256 / BLAKE2b-256, SHA-384, SHA-512).
    # Only measured where the name says hash (`two_factor_secret_hash`, Ente's keyed
    # BLAKE2b-256): a random token of 32 bytes looks the same, and is stored as issued.
    # a private key as issued, whatever the column's name: PEM (PKCS#1 RSA, SEC1 EC, DSA,
    # PKCS#8, OpenSSH; not ENCRYPTED PRIVATE KEY, sealed by a passphrase), BIND's format
    # as PowerDNS keeps DNSSEC keys in cryptokeys.content (`Private-key-format: v1.2`)
    "private_key": (
        r"^-----BEGIN ((RSA|EC|DSA|OPENSSH) )?PRIVATE KEY-----|^Private-key-format: v[0-9]"
    ),
    "encoded_digest": (
        r"^([A-Za-z0-9+/_-]{22}(==)?|[A-Za-z0-9+/_-]{27}=?|[A-Za-z0-9+/_-]{38}(==)?"
        r"|[A-Za-z0-9+/_-]{43}=?|[A-Za-z0-9+/_-]{64}|[A-Za-z0-9+/_-]{86}(==)?)$"
    ),
}
SHAPES = ("email", "phone", "ip_address", "national_id")
# bytes of a bytea value read for a test of how it begins (private_key)
HEAD_BYTES = 64
CREDENTIAL_MEASURES = ("slow_hash", "fast_digest", "reference", "encrypted", "ciphertext")
# Credential columns stored as bytea: their raw bytes (a digest, ciphertext) are no text
# anyone typed (Vaultwarden's users.password_hash, PBKDF2's 32 bytes)
BINARY_MEASURES = ("binary",)
# What counts as hashed or encrypted, of the credential measures (the margins of their
# shares add up)
DIGEST_MEASURES = ("slow_hash", "fast_digest", "encoded_digest", "encrypted", "ciphertext")
# The last words of a name that says its values are digests (`password_hash`,
# `token_digest`): there a base64 string of a digest's length is one.
DIGEST_NAMES = frozenset({"hash", "hashed", "digest", "hmac"})

# Measure -> the condition counted, on `{t}` (the column as text), `{h}` (its first bytes
# as text: a bytea column's whole value is not encoded for a test of its start) or `{c}`
# (as stored).
# `%%` is a literal % (the query has parameters). A cheap test of the value's size in
# bytes comes first: most values fail it, and AND stops there.
CONDITIONS = {
    "null": "{c} IS NULL",
    "empty": "{t} = ''",
    "blank": "{t} <> '' AND pg_catalog.btrim({t}) = ''",
    "filled": "pg_catalog.btrim({t}) <> ''",
    "placeholder": (
        "pg_catalog.octet_length({t}) <= %(placeholder_bytes)s"
        " AND pg_catalog.lower(pg_catalog.btrim({t})) = ANY (%(placeholders)s::pg_catalog.text[])"
    ),
    "email": "{t} LIKE '%%_@_%%' AND {t} ~ %(email)s",
    "phone": (
        "pg_catalog.octet_length({t}) BETWEEN 7 AND 24 AND {t} ~ %(phone)s"
        " AND {t} ~ %(phone_separator)s AND {t} !~ %(not_phone)s"
        " AND pg_catalog.length(pg_catalog.regexp_replace({t}, '[^0-9]', '', 'g'))"
        " BETWEEN 7 AND 15"
    ),
    "ip_address": (
        "pg_catalog.octet_length({t}) BETWEEN 3 AND 49"
        " AND ({t} ~ %(ipv4)s OR ({t} ~ %(ipv6)s AND {t} ~ %(ipv6_group)s))"
    ),
    "national_id": "pg_catalog.octet_length({t}) BETWEEN 9 AND 13 AND {t} ~ %(national_id)s",
    "slow_hash": "pg_catalog.octet_length({t}) >= 20 AND {t} ~ %(slow_hash)s",
    "fast_digest": "pg_catalog.octet_length({t}) BETWEEN 13 AND 200 AND {t} ~ %(fast_digest)s",
    "reference": "pg_catalog.octet_length({t}) BETWEEN 4 AND 300 AND {t} ~ %(reference)s",
    "encrypted": "pg_catalog.octet_length({t}) >= 40 AND {t} ~ %(encrypted)s",
    "ciphertext": "pg_catalog.octet_length({t}) >= 41 AND {t} ~ %(ciphertext)s",
    "binary": "{t} !~ %(typed)s",
    "private_key": (
        "({h} LIKE '-----BEGIN %%' OR {h} LIKE 'Private-key-format: %%') AND {h} ~ %(private_key)s"
    ),
    "encoded_digest": (
        "pg_catalog.octet_length({t}) BETWEEN 22 AND 88 AND {t} ~ %(encoded_digest)s"
        " AND {t} !~ '^[0-9A-Fa-f]*$'"  # hex ones are fast_digest's: counted once
    ),
}
# Measures read as an extreme instead of a count: (aggregate, expression)
EXTREMES = {
    # 0 left out: epoch columns hold it for "never" (Mattermost's `deleteat`)
    "min_value": ("min", "NULLIF({c}, 0)::int8"),
    "max_value": ("max", "{c}::int8"),
    "min_length": ("min", "pg_catalog.char_length({t})"),
    "max_length": ("max", "pg_catalog.char_length({t})"),
}
# Which of the placeholders occur: bit i set for the i-th (1-based) of the list
PLACEHOLDER_MASK = (
    "pg_catalog.bit_or(1::int8 << (pg_catalog.array_position(%(placeholders)s::pg_catalog.text[],"
    " pg_catalog.lower(pg_catalog.btrim({t}))) - 1))"
    " FILTER (WHERE pg_catalog.octet_length({t}) <= %(placeholder_bytes)s)"
)
# spaces around a placeholder that still count ('  n/a ')
PLACEHOLDER_PADDING = 8


def protected(counts: dict[str, int]) -> int:
    """Values that are not stored as typed: slow password hashes, client-side ciphertext
    and, in a bytea column, raw bytes (no value is counted by two of them)."""
    return sum(counts.get(measure, 0) for measure in ("slow_hash", "encrypted", "binary"))


def digests(counts: dict[str, int]) -> int:
    """Values that are fast digests: hex and the like anywhere, base64 where the name
    says hash (no value is counted by both)."""
    return counts.get("fast_digest", 0) + counts.get("encoded_digest", 0)


def name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", CAMEL.sub("_", name).lower()) if w]


def credential_role(column: Column) -> str | None:
    """ "password" or "secret" for a text or bytea column named like one, else None."""
    if column.type_name not in STRING_TYPES and column.type_name != "bytea":
        return None
    words = name_words(column.name)
    if not words or NOT_A_CREDENTIAL & set(words):
        return None
    if PASSWORD_WORDS & set(words):
        return "secret" if OTHER_SYSTEMS & set(words) else "password"
    pairs = set(itertools.pairwise(words))
    if SECRET_WORDS & set(words) or SECRET_PAIRS & pairs:
        return "secret"
    if words == ["key"]:
        table = name_words(column.table)
        if KEY_TABLE_WORDS & set(table) or KEY_TABLE_PAIRS & set(itertools.pairwise(table)):
            return "secret"
    return None


def measures_of(column: Column, probes: frozenset[str]) -> tuple[str, ...]:
    """What the row scan measures of this column, for the probes that run."""
    if column.generated:
        text = False
        found: list[str] = []
    else:
        text = column.type_name in STRING_TYPES
        found = ["null"] if "null_counts" in probes and not column.not_null else []
    if text and "empty_strings" in probes:
        found += ["empty", "blank", "min_length", "max_length"]
    if text and "placeholders" in probes:
        found += ["placeholder", "placeholder_mask"]
    shapes = text and "value_shapes" in probes
    binary = column.type_name == "bytea" and not column.generated
    credential = (
        (text or binary) and "password_hashes" in probes and credential_role(column) is not None
    )
    if shapes or credential:
        found.append("filled")
    if shapes:
        found += SHAPES
    if (text or binary) and "password_hashes" in probes:
        found.append("private_key")
    if credential:
        found += CREDENTIAL_MEASURES
        if binary:
            found += BINARY_MEASURES
        if name_words(column.name)[-1] in DIGEST_NAMES:
            found.append("encoded_digest")
    if "time_values" in probes and time_named_integer(column):
        found += ["min_value", "max_value"]
    return tuple(found)


Measured = list[tuple[Column, tuple[str, ...]]]


def measured_columns(columns: Iterable[Column], probes: frozenset[str]) -> dict[int, Measured]:
    """Per table oid, its columns that the row scan measures, and how."""
    measured: dict[int, Measured] = {}
    for column in columns:
        measures = measures_of(column, probes)
        if measures:
            measured.setdefault(column.table_oid, []).append((column, measures))
    return measured


def quote_identifier(name: str) -> str:
    """Always quoted, quotes doubled: exact for any identifier. (Composed as text: the
    select lists of 10,000s of tables would take minutes as psycopg.sql objects.)"""
    return '"' + name.replace('"', '""') + '"'


def unquote_identifier(token: str) -> str:
    """A name as the catalog stores it, from how SQL writes it: quoted, as written with
    its doubled quotes undone; bare, folded to lower case."""
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()


def relation(table: Table) -> str:
    return f"{quote_identifier(table.schema)}.{quote_identifier(table.name)}"


def head_text(stored: str, binary: bool) -> str:
    """The start of the value as text, enough for a test of how it begins: a bytea
    column's first bytes only (its values may be large: build logs, files)."""
    if binary:
        head = f"pg_catalog.substr({stored}, 1, {HEAD_BYTES})"
        return f"(pg_catalog.encode({head}, 'escape') COLLATE pg_catalog.\"C\")"
    return as_text(stored)


def as_text(stored: str, binary: bool = False) -> str:
    """The column as text in the C collation: a column's nondeterministic collation
    would refuse LIKE and regular expressions, and C compares bytes, fastest. A bytea
    column (`binary`) as its bytes read as text, other bytes than printable ASCII as
    `\\ooo` (`::text` would give its hex, which no hash format matches)."""
    if binary:
        return f"(pg_catalog.encode({stored}, 'escape') COLLATE pg_catalog.\"C\")"
    return f'({stored}::pg_catalog.text COLLATE pg_catalog."C")'


def condition(measure: str, column: str, alias: str = "pgvitals_row", binary: bool = False) -> str:
    """The SQL condition a counted measure counts, on `alias`'s column (bytea: `binary`)."""
    stored = f"{alias}.{quote_identifier(column)}"
    return CONDITIONS[measure].format(
        c=stored, t=as_text(stored, binary), h=head_text(stored, binary)
    )


def item_sql(measure: str, column: Column) -> tuple[str, str]:
    """(kind, aggregate) measuring one column: kind is count, min, max or mask."""
    stored = f"pgvitals_row.{quote_identifier(column.name)}"
    binary = column.type_name == "bytea"
    text = as_text(stored, binary)
    if measure in EXTREMES:
        aggregate, expression = EXTREMES[measure]
        return aggregate, f"{aggregate}({expression.format(c=stored, t=text)})"
    if measure == "placeholder_mask":
        return "mask", PLACEHOLDER_MASK.format(t=text)
    return "count", f"count(*) FILTER (WHERE {condition(measure, column.name, binary=binary)})"


@dataclass(frozen=True)
class Slot:
    """One select-list item of a profile query: which column and measure it holds."""

    column: int  # index into the table's measured columns
    measure: str
    kind: str  # count, min, max, mask


@dataclass(frozen=True)
class ProfileQuery:
    text: str
    slots: list[Slot] = field(default_factory=list)


def parameters(placeholders: Iterable[str]) -> dict[str, Any]:
    """The values a profile query refers to by name."""
    listed = [p.strip().lower() for p in placeholders]
    longest = max((len(p.encode()) for p in listed), default=0)
    return {
        **PATTERNS,
        "placeholders": listed,
        "placeholder_bytes": longest + PLACEHOLDER_PADDING,
    }


def profile_queries(
    table: Table,
    measured: Measured,
    *,
    exact: bool,
    duplicates: bool,
    percent: float = 100.0,
    method: str = "SYSTEM",
    seed: int = 0,
) -> list[ProfileQuery]:
    """The queries that measure the table: one, unless its measures overflow a select
    list. Exact: `row_count`, `duplicate_rows` and one column per slot. Sampled, grouped
    by page: `pages`, `examined` (rows read), `n_sq` (sum of squared rows per page), and
    per counted slot its sum, the sum of its squares and of its product with the page's
    rows (`m<i>`, `m<i>_sq`, `m<i>_n`), which give its margin of error."""
    slots = [
        Slot(position, measure, item_sql(measure, column)[0])
        for position, (column, measures) in enumerate(measured)
        for measure in measures
    ]
    per_query = MAX_ITEMS // (1 if exact else 3)
    chunks = [slots[start : start + per_query] for start in range(0, len(slots), per_query)]
    return [
        ProfileQuery(
            query_text(table, measured, chunk, exact, duplicates, percent, method, seed), chunk
        )
        for chunk in chunks or [[]]
    ]


def query_text(
    table: Table,
    measured: Measured,
    slots: list[Slot],
    exact: bool,
    duplicates: bool,
    percent: float,
    method: str,
    seed: int,
) -> str:
    items = [
        f"{item_sql(slot.measure, measured[slot.column][0])[1]} AS m{number}"
        for number, slot in enumerate(slots)
    ]
    if exact:
        counted = "(count(*) - count(DISTINCT ROW(pgvitals_row.*)::text))::int8"
        listed = "".join(f", {item}" for item in items)
        return (
            f"SELECT count(*)::int8 AS row_count,"
            f" {counted if duplicates else 'NULL::int8'} AS duplicate_rows{listed}"
            f" FROM ONLY {relation(table)} AS pgvitals_row"
        )
    outer = []
    for number, slot in enumerate(slots):
        name = f"m{number}"
        if slot.kind == "count":
            outer += [
                f"coalesce(sum({name}), 0)::int8 AS {name}",
                f"coalesce(sum({name} * {name}), 0)::float8 AS {name}_sq",
                f"coalesce(sum({name} * n), 0)::float8 AS {name}_n",
            ]
        elif slot.kind == "mask":
            outer.append(f"bit_or({name}) AS {name}")
        else:
            outer.append(f"{slot.kind}({name}) AS {name}")
    inner = "".join(f", {item}" for item in items)
    listed = "".join(f", {item}" for item in outer)
    sample = f"TABLESAMPLE {method} ({float(percent)!r}) REPEATABLE ({int(seed)})"
    return (
        "SELECT count(*)::int8 AS pages, coalesce(sum(n), 0)::int8 AS examined,"
        f" coalesce(sum(n * n), 0)::float8 AS n_sq{listed}"
        f" FROM (SELECT count(*) AS n{inner}"
        f" FROM ONLY {relation(table)} AS pgvitals_row {sample}"
        " GROUP BY (pgvitals_row.ctid::pg_catalog.text::pg_catalog.point)[0]) AS pgvitals_page"
    )


def margin(
    count: int, count_sq: float, count_n: float, rows: int, rows_sq: float, pages: int, f: float
) -> float | None:
    """95 % margin of error of the ratio count / rows, from a sample of whole pages: the
    ratio estimator's variance over clusters, with the finite population correction."""
    if pages < 2 or rows == 0:
        return None
    ratio = count / rows
    spread = max(count_sq - 2 * ratio * count_n + ratio * ratio * rows_sq, 0.0)
    variance = (1 - f) * pages / (pages - 1) * spread / (rows * rows)
    return round(Z_95 * math.sqrt(variance), 6)


@dataclass
class Reading:
    """What the queries of one table returned, put together column by column."""

    table: Table
    measured: Measured
    exact: bool
    percent: float
    placeholders: tuple[str, ...]
    rows: int | None = None
    examined: int | None = None
    pages: int = 0
    rows_sq: float = 0.0
    values: dict[tuple[int, str], Any] = field(default_factory=dict)
    margins: dict[tuple[int, str], float] = field(default_factory=dict)

    def add(self, query: ProfileQuery, row: dict[str, Any]) -> None:
        if self.exact:
            self.rows = self.examined = row["row_count"]
        else:
            self.pages, self.examined, self.rows_sq = row["pages"], row["examined"], row["n_sq"]
            self.rows = round(self.examined * 100.0 / self.percent)
        for number, slot in enumerate(query.slots):
            value = row[f"m{number}"]
            key = (slot.column, slot.measure)
            if slot.kind != "count" or self.exact:
                self.values[key] = value
                continue
            self.values[key] = round(value * 100.0 / self.percent)
            found = margin(
                value,
                row[f"m{number}_sq"],
                row[f"m{number}_n"],
                self.examined or 0,
                self.rows_sq,
                self.pages,
                self.percent / 100.0,
            )
            if found is not None:
                self.margins[key] = found

    def profiles(self) -> list[ColumnProfile]:
        result = []
        for position, (column, measures) in enumerate(self.measured):

            def value(measure: str, position: int = position) -> Any:
                return self.values.get((position, measure))

            counts = {
                m: value(m)
                for m in measures
                if m not in EXTREMES and m not in ("empty", "blank", "placeholder_mask")
            }
            mask = value("placeholder_mask") or 0
            result.append(
                ColumnProfile(
                    table_oid=self.table.oid,
                    column=column.name,
                    empty_strings=value("empty"),
                    blank_strings=value("blank"),
                    min_value=value("min_value"),
                    max_value=value("max_value"),
                    sampled=not self.exact,
                    counts=counts,
                    rows=self.rows,
                    examined=self.examined,
                    margins={
                        m: self.margins[(position, m)]
                        for m in measures
                        if (position, m) in self.margins
                    },
                    placeholders=[
                        placeholder
                        for bit, placeholder in enumerate(self.placeholders)
                        if mask >> bit & 1
                    ],
                    min_length=value("min_length"),
                    max_length=value("max_length"),
                )
            )
        return result
