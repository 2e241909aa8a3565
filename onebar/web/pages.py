"""The HTML pages: sign in, sign up, account, sign out. They work without JavaScript."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .. import passwords
from ..exc import DuplicateError, ValidationError
from ..redirects import safe_next
from ..store import normalize_origin
from .forms import ConfirmForm, LoginForm, PasswordForm, ProfileForm, SignupForm
from .state import current_session, end_session, onebar, start_session

bp = Blueprint("pages", __name__)

#: The throttle's subject for account creation: at most the per-account limit
#: of sign-ups per address and window (emails are never this word).
SIGNUP = "sign-up"


@bp.before_request
def refuse_cross_origin_forms() -> tuple[str, int] | None:
    """Every form POST must come from the service's own pages.

    The CSRF token alone does not stop login CSRF: a page on a sibling
    subdomain can plant the CSRF cookie for the parent domain and post a
    token it fetched itself, signing the victim in as the attacker. So a
    state-changing form is refused unless the browser says it was sent from
    this origin: ``Origin`` when present, else ``Sec-Fetch-Site``, else the
    ``Referer``. A client that sends none of them (curl, a privacy proxy)
    still needs the CSRF token and cookie, which no other site can read.
    """
    if request.method != "POST" or _from_own_origin():
        return None
    current_app.logger.warning(
        "refused a form POST to %s from another origin (Origin %r, Sec-Fetch-Site %r); if this service's "
        "public origin is not %s, set ONEBAR_PUBLIC_URL", request.path, request.headers.get("Origin"),
        request.headers.get("Sec-Fetch-Site"), onebar().own_origin())
    return render_template(
        "error.html", title="Please try again",
        message="This form was sent from another site. Open the page on this site and try again."), 403


def _from_own_origin() -> bool:
    own = onebar().own_origin()
    origin = request.headers.get("Origin")
    if origin is not None:
        return _same_origin(origin, own)
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")  # "none": the user typed it or used a bookmark
    referer = request.headers.get("Referer")
    return not referer or _same_origin(referer, own)


def _same_origin(url: str, own: str) -> bool:
    try:
        return normalize_origin(url) == normalize_origin(own)
    except ValidationError:
        return False  # "null", a foreign scheme, garbage


def _next_target(default: str = "/") -> str:
    raw = request.form.get("next") if request.method == "POST" else request.args.get("next")
    return safe_next(raw, onebar().redirect_origins(), default)


def _too_many(template: str, retry_after: int, form: LoginForm | SignupForm) -> tuple[str, int, dict[str, str]]:
    form.form_errors.append(f"Too many attempts. Try again in {retry_after} seconds.")
    return render_template(template, form=form), 429, {"Retry-After": str(retry_after)}


@bp.get("/")
def index() -> str | Response:
    if current_session() is not None:
        return redirect(url_for(".account"))
    return render_template("index.html", apps=onebar().apps)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    ob = onebar()
    form = LoginForm()
    if request.method == "GET":
        form.next.data = _next_target(default="")
        return render_template("login.html", form=form, signed_in=current_session())
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400
    address, email = request.remote_addr or "", form.email.data or ""
    # Failures first (guessing), then every attempt (each costs a hash).
    wait = ob.throttle.retry_after(address, email) or ob.throttle.attempt(address, email)
    if wait is not None:
        return _too_many("login.html", wait, form)
    found = ob.store.get_credentials(email)
    # verify() spends the same time whether or not the account exists; the
    # pool bounds how many run at once (503 past it).
    with ob.hashing.slot():
        matched = passwords.verify(found[1] if found else None, form.password.data or "")
    if not matched or found is None:
        ob.throttle.count(address, email)
        form.form_errors.append("That email and password do not match an account.")
        return render_template("login.html", form=form), 401
    ob.throttle.reset(address, email)
    start_session(found[0].id)
    return redirect(_next_target(), 303)


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int]:
    ob = onebar()
    form = SignupForm()
    if request.method == "GET":
        form.next.data = _next_target(default="")
        return render_template("signup.html", form=form)
    if not form.validate_on_submit():
        return render_template("signup.html", form=form), 400
    address = request.remote_addr or ""
    wait = ob.throttle.retry_after(address, SIGNUP)
    if wait is not None:
        return _too_many("signup.html", wait, form)
    ob.throttle.count(address, SIGNUP)
    with ob.hashing.slot():
        hashed = passwords.hash_password(form.password.data or "")
    try:
        user = ob.store.create_user(form.email.data or "", form.name.data or "", hashed)
    except DuplicateError:
        form.email.errors = ["An account with this email already exists. Sign in instead?"]
        return render_template("signup.html", form=form), 409
    start_session(user.id)
    return redirect(_next_target(), 303)


def _require_user():  # type: ignore[no-untyped-def]
    active = current_session()
    if active is None:
        abort(redirect(url_for(".login", next=request.full_path.rstrip("?")), 303))
    return active


def _account_page(profile: ProfileForm | None = None, password: PasswordForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    active = _require_user()
    user = active.user
    profile = profile or ProfileForm(data={"name": user.name, "avatar_url": user.avatar_url or ""})
    sessions = onebar().store.list_sessions(user.id, int(time.time()))
    return (
        render_template(
            "account.html",
            user=user,
            current_key=active.session.key,
            sessions=sessions,
            profile=profile,
            password=password or PasswordForm(),
            confirm=ConfirmForm(),
            apps=onebar().apps,
        ),
        status,
    )


@bp.get("/account")
def account():  # type: ignore[no-untyped-def]
    return _account_page()


@bp.post("/account/profile")
def update_profile():  # type: ignore[no-untyped-def]
    active = _require_user()
    form = ProfileForm()
    if not form.validate_on_submit():
        return _account_page(profile=form, status=400)
    # An empty picture field clears the picture (the store keeps NULL).
    onebar().store.update_user(active.user.id, name=form.name.data, avatar_url=form.avatar_url.data or "")
    flash("Your profile is saved.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/password")
def change_password():  # type: ignore[no-untyped-def]
    active = _require_user()
    ob = onebar()
    form = PasswordForm()
    if not form.validate_on_submit():
        return _account_page(password=form, status=400)
    # Someone holding a stolen session must not be able to guess the password.
    address, subject = request.remote_addr or "", f"password:{active.user.id}"
    wait = ob.throttle.retry_after(address, subject)
    if wait is not None:
        form.current.errors = [f"Too many attempts. Try again in {wait} seconds."]
        page, _ = _account_page(password=form)
        return page, 429, {"Retry-After": str(wait)}
    found = ob.store.get_credentials(active.user.email)
    with ob.hashing.slot():
        matched = found is not None and passwords.verify(found[1], form.current.data or "")
    if not matched:
        ob.throttle.count(address, subject)
        form.current.errors = ["That is not your current password."]
        return _account_page(password=form, status=400)
    # One transaction: the new password and the end of every existing session.
    with ob.hashing.slot():
        hashed = passwords.hash_password(form.password.data or "")
    ob.store.set_password(active.user.id, hashed)
    start_session(active.user.id)  # this browser carries on, with a fresh session
    flash("Your password is changed. Every other device is signed out.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/<key>/revoke")
def revoke_session(key: str):  # type: ignore[no-untyped-def]
    active = _require_user()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if key == active.session.key:
        end_session()
        return redirect(url_for(".login"), 303)
    onebar().store.revoke_session_key(active.user.id, key)
    flash("That device is signed out.")
    return redirect(url_for(".account"), 303)


@bp.post("/account/sessions/revoke-all")
def revoke_all():  # type: ignore[no-untyped-def]
    active = _require_user()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    onebar().store.revoke_user_sessions(active.user.id)
    end_session()
    flash("You are signed out everywhere.")
    return redirect(url_for(".login"), 303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        end_session()
        return redirect(_next_target(), 303)
    form.next.data = _next_target(default="")
    return render_template("logout.html", form=form, signed_in=current_session())
