// A page script written against static/onebar.d.ts, type-checked by
// tests/test_script_build.py (tsc --noEmit --strict). It uses every part of the
// declarations as docs/bar.md shows them; each @ts-expect-error line must fail
// to compile, so the declarations cannot quietly loosen to `any`.
import type { Onebar, OnebarState, OnebarUser } from "../../static/onebar";

const show = (user: OnebarUser | null): string =>
  user ? `${user.name} <${user.email}> ${user.initials} ${user.avatar_url ?? ""} ${user.email_verified}` : "signed out";

document.addEventListener("onebar:change", (e) => {
  const id: string | undefined = e.detail.user?.id; // the event's type comes from DocumentEventMap
  show(e.detail.user);
  return id;
});

const bar: Onebar | undefined = window.onebar;
if (bar) {
  bar.ready.then(() => show(bar.user));
  bar.refresh().then(show);
  bar.ready.then((user) => user?.name.toUpperCase());
  const state: OnebarState = bar.state;
  if (state === "signed-in" && bar.user) show(bar.user);
  // @ts-expect-error: state is read-only
  bar.state = "signed-out";
  // @ts-expect-error: not a state the bar has
  const wrong: OnebarState = "signed_in";
  // @ts-expect-error: user may be null
  bar.user.name;
  void wrong;
}

// @ts-expect-error: the bar may not have run yet
window.onebar.refresh();

const element: HTMLElement | null = document.querySelector("one-bar");
void element;
