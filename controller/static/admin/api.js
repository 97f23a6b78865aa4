// The controller's REST API as the staff pages use it: JSON in and out (or a FormData upload), the
// CSRF header on writes, errors turned into ApiError ({status, message, fields, body}) with the
// server's message (already in the page's language: the server picks it the same way).

import { _ } from "./i18n.js";

const T = {
  network: _("Нет связи с сервером. Проверьте сеть и попробуйте ещё раз."),
  unreadable: _("Сервер ответил непонятно. Обновите страницу и попробуйте ещё раз."),
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || T.unreadable);
    this.status = status;
    this.code = body && body.error;
    this.fields = (body && body.fields) || {};
    this.body = body; // the whole answer, for a caller that needs more than the message (a 409's preview)
  }
}

let sessionPromise = null;

/** The signed-in user and the CSRF token of this session (read once per page). */
export function currentSession() {
  if (!sessionPromise) {
    sessionPromise = request("GET", "/api/session");
  }
  return sessionPromise;
}

/** Go to the sign-in page, back to this page afterwards (a session that ended). */
export function toLogin() {
  const next = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(next));
}

async function request(method, path, body, csrf) {
  const headers = { Accept: "application/json" };
  const form = body instanceof FormData; // the browser sets the multipart Content-Type itself
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { message: T.network });
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) {
    toLogin();
  }
  if (!response.ok) {
    throw new ApiError(response.status, data);
  }
  if (data === null) throw new ApiError(response.status, null);
  return data;
}

/** GET `path` with `params` (empty values left out); return the parsed JSON answer. */
export function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return request("GET", text ? `${path}?${text}` : path);
}

/** Send a write (POST, PATCH) with the session's CSRF token; return the parsed JSON answer.
 * `body` is an object (sent as JSON) or a FormData (a file upload, sent as multipart). */
export async function write(method, path, body = {}) {
  const { csrf_token: csrf } = await currentSession();
  return request(method, path, body, csrf);
}
