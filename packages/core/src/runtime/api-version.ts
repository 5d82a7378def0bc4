/** Version of the plugin API this build of core implements; plugins declare a semver range of it. */
export const WEFT_API_VERSION = '0.1.0';
