Kind          = "service-resolver"
Name          = "web"
DefaultSubset = "v1"
Subsets = {
  v1 = { Filter = "Service.Meta.version == v1" }
  v2 = { Filter = "Service.Meta.version == v2" }
}
ConnectTimeout = "3s"
RequestTimeout = "10s"
LoadBalancer = {
  Policy = "least_request"
  LeastRequestConfig = {
    ChoiceCount = 4
  }
}
Failover = {
  "*" = {
    Datacenters = ["dc2", "dc3"]
  }
}
