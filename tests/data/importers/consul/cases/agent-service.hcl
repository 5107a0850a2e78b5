# An agent service definition: its sidecar's upstream settings (snake_case keys).
services {
  name = "checkout"
  port = 9090
  connect {
    sidecar_service {
      proxy {
        upstreams = [
          {
            destination_name = "inventory"
            local_bind_port  = 6000
            config {
              connect_timeout_ms = 1500
              limits {
                max_connections = 8
              }
              passive_health_check {
                interval     = "15s"
                max_failures = 2
              }
            }
          }
        ]
      }
    }
  }
}
