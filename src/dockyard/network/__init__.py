"""Container networking: CNI plugins, network namespaces, per-network firewall rules, port publishing."""
