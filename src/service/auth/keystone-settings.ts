/** `[keystone_authtoken]` as OpenStack operators write it for Zaqar (keystonemiddleware's names). */
export interface KeystoneSettings {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  /** Seconds a validated token is trusted before keystone is asked again (never past its expiry). */
  tokenCacheTime: number;
}
