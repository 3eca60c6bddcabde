export * from './access-control.js';
export * from './authenticator-factory.js';
export * from './identity.js';
export {
  KeystoneAuthenticator,
  type KeystoneAuthenticatorOptions,
  type KeystoneFetch,
  type KeystoneResponse,
} from './keystone-authenticator.js';
export { KEYSTONE_AUTHTOKEN_KEYS, type KeystoneSettings, keystoneSettingsFrom } from './keystone-settings.js';
export * from './noauth-authenticator.js';
export * from './policy.js';
export * from './token-authenticator.js';
export * from './token-issuer.js';
