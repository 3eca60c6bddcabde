import { InvalidArgumentError } from '../../core/index.js';
import type { Authenticator } from './identity.js';
import { KeystoneAuthenticator } from './keystone-authenticator.js';
import type { KeystoneSettings } from './keystone-settings.js';
import { NoauthAuthenticator } from './noauth-authenticator.js';
import { TokenAuthenticator, type TokenSettings } from './token-authenticator.js';

export type AuthStrategy = 'noauth' | 'keystone' | 'token';

export interface AuthSettings {
  strategy: AuthStrategy;
  /** noauth: the project of a request without X-Project-ID (null: such requests are refused). */
  defaultProject: string | null;
  /** keystone: `[keystone_authtoken]`; null under the other strategies. */
  keystone: KeystoneSettings | null;
  /** token: `[token]`; null under the other strategies. */
  token: TokenSettings | null;
}

/** The Authenticator of the configured strategy. */
export function createAuthenticator(
  settings: AuthSettings,
  checkProject: (value: string | undefined) => string,
): Authenticator {
  switch (settings.strategy) {
    case 'noauth':
      return new NoauthAuthenticator(settings.defaultProject, checkProject);
    case 'token':
      if (settings.token === null)
        throw new InvalidArgumentError('token', 'auth_strategy "token" needs [token] settings');
      return new TokenAuthenticator(settings.token);
    case 'keystone':
      if (settings.keystone === null) {
        throw new InvalidArgumentError(
          'keystone_authtoken',
          'auth_strategy "keystone" needs [keystone_authtoken] settings',
        );
      }
      return new KeystoneAuthenticator(settings.keystone);
  }
}
