/**
 * The native addon (build/Release/diskcache_shm.node, built by the install script and by the
 * global setup when missing). Tests of the WAL-index validator skip where it does not load, with
 * the reason — except in CI (REQUIRE_NATIVE_ADDON=1, set by .ci/run), where that is a failure.
 */
import { nativeAddonError } from '../../src/cache/shm.js';

/** Why the addon's tests skip here, or undefined when it loads. Throws when it is required. */
export function nativeMissing(): string | undefined {
  const error = nativeAddonError();
  if (error === undefined) return undefined;
  if (process.env.REQUIRE_NATIVE_ADDON === '1')
    throw new Error(
      `the native addon is required here (REQUIRE_NATIVE_ADDON=1) but does not load: ${error}`,
    );
  return `the native addon does not load (${error}): build it with \`node native/install.mjs\``;
}
