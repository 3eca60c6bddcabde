import { request } from 'undici';

/** The Zaqar headers of a client of project `project` (one fixed Client-ID). */
export function zaqarHeaders(project: string) {
  return {
    'client-id': '3381af92-2b9e-11e3-b191-71861300734c',
    'x-project-id': project,
    'content-type': 'application/json',
  };
}

/** A JSON request with `headers` to a server at `url`; the answer's status and parsed body. */
export function jsonCaller(headers: Record<string, string>) {
  return async (url: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => {
    const response = await request(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
  };
}
