export * from './access-control.js';
export * from './authenticator-factory.js';
export * from './identity.js';
export type { KeystoneSettings } from './keystone-settings.js';
export * from './noauth-authenticator.js';
export * from './policy.js';
export * from './token-authenticator.js';
export * from './token-issuer.js';
