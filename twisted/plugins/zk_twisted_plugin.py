"""twistd plugin: ``twistd -n zkserver -c zoo.cfg``."""

from twisted.application.service import ServiceMaker

zkserver = ServiceMaker(
    "zk_twisted", "zk_twisted.tap", "A ZooKeeper 3.8 compatible server on Twisted", "zkserver"
)
