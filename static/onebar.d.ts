// Type declarations for the Onebar bar (static/onebar.js), for pages written in
// TypeScript. Copy this file into your project, or reference it:
//   /// <reference path="onebar.d.ts" />
// What it describes is documented in docs/bar.md ("Events and API").

/** The signed-in user, as GET /api/me answers it. */
export interface OnebarUser {
  id: string;
  name: string;
  email: string;
  initials: string;
  avatar_url: string | null;
  /** True once the user opened a confirmation link sent to this email; false again after it changes. */
  email_verified: boolean;
}

/** What the bar knows: before its first answer, and after. */
export type OnebarState = "loading" | "signed-in" | "signed-out" | "unavailable";

export interface Onebar {
  /** Asks the service again; resolves to the user or null. */
  refresh(): Promise<OnebarUser | null>;
  /** Resolves once, after the first answer (or the fallback when the service is unreachable): the user or null. */
  readonly ready: Promise<OnebarUser | null>;
  /** The user the bar shows now (a copy), or null: signed out, unavailable, or still loading (see state). */
  readonly user: OnebarUser | null;
  readonly state: OnebarState;
}

export interface OnebarChangeDetail {
  user: OnebarUser | null;
}

declare global {
  interface Window {
    /** Present once the bar's script has run. */
    onebar?: Onebar;
  }
  interface DocumentEventMap {
    "onebar:change": CustomEvent<OnebarChangeDetail>;
  }
  interface HTMLElementTagNameMap {
    "one-bar": HTMLElement;
  }
}
