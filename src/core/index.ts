export * from './clock.js';
export * from './codec.js';
export * from './errors.js';
export * from './folder-lock.js';
export * from './ids.js';
export * from './limits.js';
export * from './types.js';
export * from './validate.js';
