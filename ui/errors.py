"""Errors of the web UI, beside the :class:`~lake.errors.LakegateError` tree.

    LakegateError
    ├── AuthenticationError
    │   ├── SignInRequired        no session cookie, or an unknown session (the UI redirects to sign-in)
    │   └── SessionExpired        the session passed its lifetime or idle limit, or its token was revoked
    └── CsrfRejected              a form came without the session's CSRF token, or with another one

Pages turn these into a redirect to the sign-in page (the first two) or a
403 page naming the form (the last); other errors become an HTML page with
the error's status, code and message.
"""

from __future__ import annotations

from typing import Any

from lake.errors import AuthenticationError, LakegateError


class SignInRequired(AuthenticationError):
    """The request carries no valid session."""

    code = "sign_in_required"

    def __init__(self, message: str = "sign in to continue") -> None:
        super().__init__(message)


class SessionExpired(SignInRequired):
    """The session existed but is no longer valid; ``reason`` says why."""

    code = "session_expired"

    def __init__(self, reason: str) -> None:
        super().__init__(f"your session ended ({reason}); sign in again")
        self.reason = reason

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason}


class CsrfRejected(LakegateError):
    """A POST form without the right CSRF token."""

    code = "csrf_rejected"
    http_status = 403

    def __init__(self, form: str, problem: str) -> None:
        super().__init__(f"the form {form} was refused: its CSRF token is {problem}; "
                         "reload the page and submit the form again")
        self.form = form
        self.problem = problem

    def details(self) -> dict[str, Any]:
        return {"form": self.form, "problem": self.problem}
