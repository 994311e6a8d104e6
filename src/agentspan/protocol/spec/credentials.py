"""Credential references: names the server resolves from its credential store at run time.

A spec never carries a secret, only its name; the server turns names into an execution
token that workers exchange for values (reference API §16).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

CredentialName = Annotated[str, Field(min_length=1, max_length=256)]
"""The name of one credential, e.g. ``GITHUB_TOKEN`` (a CredentialFile sends its env var)."""

CredentialRefs = list[CredentialName]
