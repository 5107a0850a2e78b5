# service-router in HCL1 style (nested blocks inside a list of objects), as in
# Consul's documentation. The /admin route is not modelled; the catch-all is.
Kind = "service-router"
Name = "web"
Routes = [
  {
    Match {
      HTTP {
        PathPrefix = "/admin"
      }
    }
    Destination {
      Service = "admin"
    }
  },
  {
    Destination {
      RequestTimeout        = "2s"
      NumRetries            = 3
      RetryOnConnectFailure = true
      RetryOn               = ["reset", "gateway-error"]
      RetryOnStatusCodes    = [503, 429]
    }
  },
]
