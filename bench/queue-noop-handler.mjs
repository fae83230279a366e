/** The work queue benchmark's handler: a no-op job, as in plainjob's own benchmark. */
export default function noop() {}
