# PassiveHealthCheck values that mean "unset" or "off" in Consul.
Kind = "service-defaults"
Name = "web"
UpstreamConfig {
  Overrides = [
    {
      Name = "billing"
      PassiveHealthCheck {
        Interval = "0s"
        MaxFailures = 3
        EnforcingConsecutive5xx = 0
      }
    },
    {
      Name = "search"
      PassiveHealthCheck {
        Interval = "5s"
        EnforcingConsecutive5xx = 60
      }
    }
  ]
}
