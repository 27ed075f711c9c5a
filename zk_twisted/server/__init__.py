"""The sans-IO ZooKeeper server core: DataTree, watches, sessions, ACLs and the request pipeline."""
