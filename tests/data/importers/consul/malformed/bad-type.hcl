Kind = "service-router"
Name = "web"
Routes = [
  {
    Destination {
      NumRetries = "lots"
    }
  }
]
