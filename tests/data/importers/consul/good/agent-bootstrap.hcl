# Agent configuration with bootstrap config entries, snake_case keys.
config_entries {
  bootstrap {
    kind = "proxy-defaults"
    name = "global"
    config {
      protocol = "http"
    }
  }
  bootstrap {
    kind = "service-splitter"
    name = "search"
    splits = [
      { weight = 70, service = "search-v1" },
      { weight = 30, service = "search-v2" },
    ]
  }
}
