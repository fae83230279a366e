{
  "targets": [
    {
      "target_name": "diskcache_shm",
      "sources": ["native/shm.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
