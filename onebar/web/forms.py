"""The HTML forms, validated by WTForms; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField, URLField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError

from .. import passwords, text
from ..exc import ValidationError as OnebarValidationError
from ..store import normalize_email, normalize_origin


def _email(form: FlaskForm, field: EmailField) -> None:
    try:
        normalize_email(field.data or "")
    except OnebarValidationError as exc:
        raise ValidationError(str(exc)) from None


def _printable(form: FlaskForm, field: StringField) -> None:
    try:
        text.check_name(field.data or "")
    except OnebarValidationError as exc:
        raise ValidationError(str(exc)) from None


def _https_url(form: FlaskForm, field: URLField) -> None:
    if field.data:
        try:
            normalize_origin(field.data)
        except OnebarValidationError:
            raise ValidationError("Enter an http(s) address of an image, or leave it empty.") from None
        if not field.data.startswith("https://"):
            raise ValidationError("Use an https:// address so the picture loads on every site.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


_NAME = [DataRequired("Enter your name."), Length(max=80, message="Keep the name under 80 characters."), _printable]
_NEW_PASSWORD = [
    InputRequired("Choose a password."),
    Length(
        min=passwords.MIN_LENGTH,
        max=passwords.MAX_LENGTH,
        message=f"Use at least {passwords.MIN_LENGTH} characters.",
    ),
]


class LoginForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter your email."), Length(max=320)], filters=[_strip])
    password = PasswordField("Password", [InputRequired("Enter your password."), Length(max=passwords.MAX_LENGTH)])
    next = HiddenField()


class SignupForm(FlaskForm):
    invite = HiddenField()
    name = StringField("Name", _NAME, filters=[_strip])
    email = EmailField("Email", [InputRequired("Enter your email."), Length(max=320), _email], filters=[_strip])
    password = PasswordField("Password", _NEW_PASSWORD)
    confirm = PasswordField("Repeat password", [EqualTo("password", "The passwords do not match.")])
    next = HiddenField()


class ProfileForm(FlaskForm):
    name = StringField("Name", _NAME, filters=[_strip])
    avatar_url = URLField("Picture URL", [Optional(), Length(max=500), _https_url], filters=[_strip])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", [InputRequired("Enter your current password.")])
    password = PasswordField("New password", _NEW_PASSWORD)
    confirm = PasswordField("Repeat new password", [EqualTo("password", "The passwords do not match.")])


class ConfirmForm(FlaskForm):
    """A form with nothing but the CSRF token: sign out, revoke a session."""

    next = HiddenField()


class ForgotForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter your email."), Length(max=320)], filters=[_strip])


class ResetForm(FlaskForm):
    password = PasswordField("New password", _NEW_PASSWORD)
    confirm = PasswordField("Repeat new password", [EqualTo("password", "The passwords do not match.")])


class EmailForm(FlaskForm):
    email = EmailField("New email", [InputRequired("Enter the new email."), Length(max=320), _email],
                       filters=[_strip])
    current = PasswordField("Confirm with your password", [InputRequired("Enter your current password.")])


class DeleteForm(FlaskForm):
    current = PasswordField("Your password", [InputRequired("Enter your password to delete the account.")])
