// ZkScript: runs one named scenario with ZooKeeper 3.8's own Java client
// (org.apache.zookeeper.ZooKeeper, the client Curator is built on) and prints one JSON line
// per step on stdout.  The tests run the same scenario against Java ZooKeeper 3.8 and
// against zk_twisted and compare the normalized lines.
//
//   java ZkScript SCENARIO SERVER ROOT [PROXY] [ARG]
//
// SERVER is host:port of the server, ROOT the znode the scenario works under, PROXY the
// host:port of a TCP proxy in front of SERVER (reconnect scenario).  The scenario may
// stop on a {"step":"wait","name":N} line and read one line from stdin before going on:
// that is when the test acts on the proxy.
//
// Output values: Stat -> object of its 11 fields; byte[] -> string (null stays null);
// ACL -> [perms, scheme, id]; OpResult -> object with "type" and its fields; a
// KeeperException -> {"err": CODE, "results": [...]} instead of {"ok": value}.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class ZkScript {

    // ------------------------------------------------------------------ JSON out

    static synchronized void emit(Map<String, Object> m) {
        System.out.println(js(m));
        System.out.flush();
    }

    static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    static String js(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof String) {
            return quote((String) v);
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof byte[]) {
            return quote(new String((byte[]) v, StandardCharsets.UTF_8));
        }
        if (v instanceof Stat) {
            Stat s = (Stat) v;
            return js(obj("czxid", s.getCzxid(), "mzxid", s.getMzxid(), "ctime", s.getCtime(),
                    "mtime", s.getMtime(), "version", s.getVersion(), "cversion", s.getCversion(),
                    "aversion", s.getAversion(), "ephemeralOwner", s.getEphemeralOwner(),
                    "dataLength", s.getDataLength(), "numChildren", s.getNumChildren(), "pzxid", s.getPzxid()));
        }
        if (v instanceof ACL) {
            ACL a = (ACL) v;
            return js(Arrays.asList(a.getPerms(), a.getId().getScheme(), a.getId().getId()));
        }
        if (v instanceof ClientInfo) {
            ClientInfo c = (ClientInfo) v;
            return js(Arrays.asList(c.getAuthScheme(), c.getUser()));
        }
        if (v instanceof OpResult) {
            return js(opResult((OpResult) v));
        }
        if (v instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (b.length() > 1) {
                    b.append(',');
                }
                b.append(quote(String.valueOf(e.getKey()))).append(':').append(js(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (v instanceof Iterable) {
            StringBuilder b = new StringBuilder("[");
            for (Object x : (Iterable<?>) v) {
                if (b.length() > 1) {
                    b.append(',');
                }
                b.append(js(x));
            }
            return b.append(']').toString();
        }
        return quote(v.toString());
    }

    static Map<String, Object> opResult(OpResult r) {
        if (r instanceof OpResult.CreateResult) {
            OpResult.CreateResult c = (OpResult.CreateResult) r;
            return obj("type", r.getType(), "path", c.getPath(), "stat", c.getStat());
        }
        if (r instanceof OpResult.SetDataResult) {
            return obj("type", r.getType(), "stat", ((OpResult.SetDataResult) r).getStat());
        }
        if (r instanceof OpResult.GetDataResult) {
            OpResult.GetDataResult g = (OpResult.GetDataResult) r;
            return obj("type", r.getType(), "data", g.getData(), "stat", g.getStat());
        }
        if (r instanceof OpResult.GetChildrenResult) {
            return obj("type", r.getType(), "children", sorted(((OpResult.GetChildrenResult) r).getChildren()));
        }
        if (r instanceof OpResult.ErrorResult) {
            return obj("type", r.getType(), "err", ((OpResult.ErrorResult) r).getErr());
        }
        return obj("type", r.getType());
    }

    static List<String> sorted(List<String> l) {
        List<String> c = new ArrayList<>(l);
        Collections.sort(c);
        return c;
    }

    // ------------------------------------------------------------------ steps

    interface Body {
        Object run() throws Exception;
    }

    static Object step(String name, Body body) {
        try {
            Object r = body.run();
            emit(obj("step", name, "ok", r));
            return r;
        } catch (KeeperException e) {
            Map<String, Object> m = obj("step", name, "err", e.code().name());
            if (e.getResults() != null) {
                m.put("results", e.getResults());
            }
            emit(m);
        } catch (IllegalArgumentException e) {
            emit(obj("step", name, "client_error", e.getClass().getSimpleName()));
        } catch (Exception e) {
            emit(obj("step", name, "exception", e.toString()));
        }
        return null;
    }

    static void waitForTest(String name) throws Exception {
        emit(obj("step", "wait", "name", name));
        int c;
        while ((c = System.in.read()) != -1 && c != '\n') {
            // the test answers one line when it is done with the proxy
        }
    }

    // ------------------------------------------------------------------ events

    /** Every event of one client, in the order the client's event thread delivered them. */
    static class Rec implements Watcher {
        final String name;
        final List<List<String>> events = new ArrayList<>();

        Rec(String name) {
            this.name = name;
        }

        @Override
        public synchronized void process(WatchedEvent e) {
            events.add(Arrays.asList(e.getType().name(), e.getState().name(), e.getPath()));
            notifyAll();
        }

        synchronized boolean waitFor(String type, String state, String path, long ms) throws InterruptedException {
            long deadline = System.currentTimeMillis() + ms;
            while (true) {
                for (List<String> e : events) {
                    if (e.get(0).equals(type) && (state == null || e.get(1).equals(state))
                            && (path == null ? e.get(2) == null : path.equals(e.get(2)))) {
                        return true;
                    }
                }
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
        }

        synchronized List<List<String>> take() {
            List<List<String>> out = new ArrayList<>(events);
            events.clear();
            return out;
        }
    }

    static void dump(Rec rec, String label, String type, String path) throws InterruptedException {
        boolean ok = rec.waitFor(type, null, path, 20000);
        emit(obj("step", label, "ok", rec.take(), "complete", ok));
    }

    static ZooKeeperAdmin connect(String hosts, Rec rec) throws Exception {
        ZooKeeperAdmin zk = new ZooKeeperAdmin(hosts, 10000, rec);
        if (!rec.waitFor("None", "SyncConnected", null, 20000)) {
            throw new IllegalStateException("no connection to " + hosts);
        }
        rec.take();
        return zk;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    // ------------------------------------------------------------------ scenarios

    /** Every opcode through the Java API, with results, Stats and error codes. */
    static void ops(String server, String r) throws Exception {
        Rec rec = new Rec("c");
        ZooKeeperAdmin zk = connect(server, rec);
        emit(obj("step", "session", "ok", zk.getSessionId()));
        Stat base = new Stat();
        zk.create(r, b("root"), OPEN, CreateMode.PERSISTENT, base);
        emit(obj("step", "base", "ok", base));

        for (CreateMode mode : CreateMode.values()) {
            final Stat st = new Stat();
            String p = r + "/" + mode.name().toLowerCase();
            if (mode.isTTL()) {
                step("create2 " + mode, () -> Arrays.asList(zk.create(p, b("v"), OPEN, mode, st, 60000), st));
            } else {
                step("create2 " + mode, () -> Arrays.asList(zk.create(p, b("v"), OPEN, mode, st), st));
            }
        }
        step("create plain", () -> zk.create(r + "/plain", null, OPEN, CreateMode.PERSISTENT));
        step("get null data", () -> {
            Stat st = new Stat();
            return Arrays.asList(zk.getData(r + "/plain", false, st), st);
        });
        step("create seq no stat", () -> zk.create(r + "/q-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL));
        step("create container no stat", () -> zk.create(r + "/c2", b(""), OPEN, CreateMode.CONTAINER));
        step("ttl 0", () -> zk.create(r + "/t0", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 0));
        step("exists", () -> zk.exists(r + "/persistent", false));
        step("exists missing", () -> zk.exists(r + "/none", false));
        step("setData", () -> zk.setData(r + "/persistent", b("vv"), 0));
        step("setData stale", () -> zk.setData(r + "/persistent", b("vv"), 0));
        step("getData", () -> {
            Stat st = new Stat();
            return Arrays.asList(zk.getData(r + "/persistent", false, st), st);
        });
        step("getChildren2", () -> {
            Stat st = new Stat();
            return Arrays.asList(sorted(zk.getChildren(r, false, st)), st);
        });
        step("getChildren", () -> sorted(zk.getChildren(r, false)));
        step("getAllChildrenNumber", () -> zk.getAllChildrenNumber(r));
        step("getAllChildrenNumber missing", () -> zk.getAllChildrenNumber(r + "/none"));
        step("getEphemerals", () -> sorted(zk.getEphemerals()));
        step("getEphemerals prefix", () -> sorted(zk.getEphemerals(r + "/ephemeral_")));
        step("getEphemerals none", () -> sorted(zk.getEphemerals(r + "/zzz")));
        step("check via multi", () -> zk.multi(Arrays.asList(Op.check(r + "/persistent", 1))));
        step("delete nonempty", () -> {
            zk.delete(r, -1);
            return null;
        });
        step("delete stale", () -> {
            zk.delete(r + "/persistent", 0);
            return null;
        });
        step("delete", () -> {
            zk.delete(r + "/persistent", 1);
            return null;
        });
        final CountDownLatch synced = new CountDownLatch(1);
        final Object[] syncResult = new Object[2];
        zk.sync(r, (rc, path, ctx) -> {
            syncResult[0] = KeeperException.Code.get(rc).name();
            syncResult[1] = path;
            synced.countDown();
        }, null);
        synced.await(20, TimeUnit.SECONDS);
        emit(obj("step", "sync", "ok", Arrays.asList(syncResult)));

        // multi: results of every op; a failure aborts all and reports per-op errors
        step("multi", () -> zk.multi(Arrays.asList(
                Op.create(r + "/m", b("m"), OPEN, CreateMode.PERSISTENT),
                Op.create(r + "/m/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL),
                Op.setData(r + "/m", b("m2"), 0),
                Op.check(r + "/m", 1),
                Op.delete(r + "/m/s-0000000000", -1))));
        step("multi failing", () -> zk.multi(Arrays.asList(
                Op.create(r + "/m/x", b(""), OPEN, CreateMode.PERSISTENT),
                Op.check(r + "/m", 7),
                Op.setData(r + "/m", b("m3"), -1))));
        step("multi container and ttl", () -> zk.multi(Arrays.asList(
                Op.create(r + "/mc", b(""), OPEN, CreateMode.CONTAINER),
                Op.create(r + "/mt", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, 60000),
                Op.create(r + "/mc/k", b(""), OPEN, CreateMode.PERSISTENT))));
        step("multiRead", () -> zk.multi(Arrays.asList(
                Op.getData(r + "/m"), Op.getChildren(r + "/m"), Op.getData(r + "/none"), Op.getChildren(r))));

        // ACLs and auth
        zk.addAuthInfo("digest", b("alice:secret"));
        List<ACL> alice = Arrays.asList(
                new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret"))),
                new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
        step("create acl", () -> zk.create(r + "/acl", b("a"), alice, CreateMode.PERSISTENT));
        step("getACL", () -> {
            Stat st = new Stat();
            return Arrays.asList(zk.getACL(r + "/acl", st), st);
        });
        step("setACL", () -> zk.setACL(r + "/acl", Ids.CREATOR_ALL_ACL, 0));
        step("setACL stale", () -> zk.setACL(r + "/acl", Ids.CREATOR_ALL_ACL, 0));
        step("getACL creator", () -> zk.getACL(r + "/acl", new Stat()));
        step("whoAmI", () -> zk.whoAmI());
        step("getConfig", () -> {
            Stat st = new Stat();
            return Arrays.asList(zk.getConfig(false, st), st);
        });
        step("reconfig", () -> zk.reconfigure("server.9=127.0.0.1:1:2", null, null, -1, new Stat()));

        Rec rec2 = new Rec("other");
        ZooKeeperAdmin other = connect(server, rec2);
        step("other getData acl", () -> zk.getData(r + "/acl", false, null) != null);
        step("other getData noauth", () -> other.getData(r + "/acl", false, null));
        step("other setData noauth", () -> other.setData(r + "/acl", b("x"), -1));
        step("other getACL noauth", () -> other.getACL(r + "/acl", new Stat()));
        other.close();
        zk.close();
        emit(obj("step", "closed", "ok", true));
    }

    /** Persistent and recursive watches (addWatch), their events, and removing watches. */
    static void watches(String server, String r) throws Exception {
        Rec rec = new Rec("w");
        ZooKeeperAdmin w = connect(server, rec);
        ZooKeeperAdmin c = connect(server, new Rec("c"));
        Stat base = new Stat();
        c.create(r, b(""), OPEN, CreateMode.PERSISTENT, base);
        emit(obj("step", "base", "ok", base));
        step("addWatch persistent", () -> {
            w.addWatch(r + "/p", AddWatchMode.PERSISTENT);
            return null;
        });
        step("addWatch recursive", () -> {
            w.addWatch(r + "/r", AddWatchMode.PERSISTENT_RECURSIVE);
            return null;
        });
        step("addWatch recursive on /", () -> {
            w.addWatch(r + "/deep/a", AddWatchMode.PERSISTENT_RECURSIVE);
            return null;
        });
        c.create(r + "/p", b("0"), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/p", b("1"), -1);
        c.setData(r + "/p", b("2"), -1);
        c.create(r + "/p/c", b(""), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/p/c", b("x"), -1);  // not p itself: no event for a plain persistent watch
        c.delete(r + "/p/c", -1);
        c.create(r + "/r", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/r/a", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/r/a/b", b(""), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/r/a/b", b("y"), -1);
        c.create(r + "/r/a/b/e", b(""), OPEN, CreateMode.EPHEMERAL);
        c.delete(r + "/r/a/b/e", -1);
        c.create(r + "/deep", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/deep/a", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/deep/a/z", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/r/s1", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events 1", "NodeCreated", r + "/r/s1");

        // a recursive watch sees only what its READ ACL allows (CVE-2024-23944)
        c.addAuthInfo("digest", b("alice:secret"));
        c.create(r + "/r/secret", b(""), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        c.setData(r + "/r/secret", b("s"), -1);
        c.create(r + "/r/s2", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events acl", "NodeCreated", r + "/r/s2");

        // one-shot watches beside persistent ones on other paths
        step("getData watch", () -> w.getData(r + "/r/a", true, null));
        step("exists watch", () -> w.exists(r + "/one", true));
        c.setData(r + "/r/a", b("z"), -1);
        c.create(r + "/one", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/r/s3", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events 2", "NodeCreated", r + "/r/s3");

        // checkWatches / removeWatches, through the client API
        step("removeWatches data none", () -> {
            w.removeWatches(r + "/one", rec, Watcher.WatcherType.Data, false);
            return null;
        });
        step("getChildren watch", () -> sorted(w.getChildren(r + "/one", true)));
        step("removeWatches children", () -> {
            w.removeWatches(r + "/one", rec, Watcher.WatcherType.Children, false);
            return null;
        });
        step("removeWatches children again", () -> {
            w.removeWatches(r + "/one", rec, Watcher.WatcherType.Children, false);
            return null;
        });
        step("getData watch 2", () -> w.getData(r + "/one", true, null));
        step("removeAllWatches data", () -> {
            w.removeAllWatches(r + "/one", Watcher.WatcherType.Data, false);
            return null;
        });
        step("removeAllWatches persistent", () -> {
            w.removeAllWatches(r + "/p", Watcher.WatcherType.Any, false);
            return null;
        });
        step("removeAllWatches recursive", () -> {
            w.removeAllWatches(r + "/r", Watcher.WatcherType.Any, false);
            return null;
        });
        step("removeAllWatches none", () -> {
            w.removeAllWatches(r + "/p", Watcher.WatcherType.Any, false);
            return null;
        });
        c.setData(r + "/one", b("1"), -1);
        c.create(r + "/one/k", b(""), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/p", b("3"), -1);
        c.create(r + "/r/s4", b(""), OPEN, CreateMode.PERSISTENT);
        step("exists sentinel", () -> w.exists(r + "/sentinel", true));
        c.create(r + "/sentinel", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events after removal", "NodeCreated", r + "/sentinel");
        c.close();
        w.close();
        emit(obj("step", "closed", "ok", true));
    }

    /** ZOOKEEPER-4466: a one-shot watch on a path that has a persistent watch (3.8 downgrades it). */
    static void mixedWatch(String server, String r) throws Exception {
        Rec rec = new Rec("w");
        ZooKeeperAdmin w = connect(server, rec);
        ZooKeeperAdmin c = connect(server, new Rec("c"));
        Stat base = new Stat();
        c.create(r, b(""), OPEN, CreateMode.PERSISTENT, base);
        emit(obj("step", "base", "ok", base));
        c.create(r + "/p", b("0"), OPEN, CreateMode.PERSISTENT);
        w.addWatch(r + "/p", AddWatchMode.PERSISTENT);
        w.getData(r + "/p", true, null);
        c.setData(r + "/p", b("1"), -1);
        c.setData(r + "/p", b("2"), -1);
        w.exists(r + "/sentinel", true);
        c.create(r + "/sentinel", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events", "NodeCreated", r + "/sentinel");
        c.close();
        w.close();
    }

    /**
     * Watches survive a reconnect: the client re-registers them (setWatches, or setWatches2
     * when it has persistent watches) and learns about what changed while it was away.
     */
    static void reconnect(String server, String r, String proxy, boolean persistent) throws Exception {
        Rec rec = new Rec("w");
        ZooKeeperAdmin w = connect(proxy, rec);
        ZooKeeperAdmin c = connect(server, new Rec("c"));
        Stat base = new Stat();
        c.create(r, b(""), OPEN, CreateMode.PERSISTENT, base);
        emit(obj("step", "base", "ok", base));
        for (String p : new String[] {"/d", "/kids", "/gone", "/same", "/p", "/rr"}) {
            c.create(r + p, b("0"), OPEN, CreateMode.PERSISTENT);
        }
        long session = w.getSessionId();
        step("data watch", () -> w.getData(r + "/d", true, null));
        step("exist watch", () -> w.exists(r + "/missing", true));
        step("child watch", () -> sorted(w.getChildren(r + "/kids", true)));
        step("data watch on deleted", () -> w.getData(r + "/gone", true, null));
        step("data watch unchanged", () -> w.getData(r + "/same", true, null));
        step("child watch unchanged", () -> sorted(w.getChildren(r + "/same", true)));
        step("exist watch sentinel", () -> w.exists(r + "/sentinel", true));
        if (persistent) {
            w.addWatch(r + "/p", AddWatchMode.PERSISTENT);
            w.addWatch(r + "/rr", AddWatchMode.PERSISTENT_RECURSIVE);
        }
        waitForTest("cut");
        boolean down = rec.waitFor("None", "Disconnected", null, 20000);
        emit(obj("step", "disconnected", "ok", down));
        c.setData(r + "/d", b("1"), -1);
        c.create(r + "/missing", b(""), OPEN, CreateMode.PERSISTENT);
        c.create(r + "/kids/k", b(""), OPEN, CreateMode.PERSISTENT);
        c.delete(r + "/gone", -1);
        c.setData(r + "/p", b("x"), -1);
        c.create(r + "/rr/x", b(""), OPEN, CreateMode.PERSISTENT);
        waitForTest("heal");
        boolean up = rec.waitFor("None", "SyncConnected", null, 30000);
        emit(obj("step", "reconnected", "ok", up, "same session", w.getSessionId() == session));
        // a reply on the same connection: the re-registration was processed before it
        step("exists after reconnect", () -> w.exists(r, false) != null);
        c.setData(r + "/same", b("s"), -1);
        c.create(r + "/same/c", b(""), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/p", b("y"), -1);
        c.create(r + "/rr/x/y", b(""), OPEN, CreateMode.PERSISTENT);
        c.setData(r + "/d", b("2"), -1);  // the data watch on d fired already: no event
        c.create(r + "/sentinel", b(""), OPEN, CreateMode.PERSISTENT);
        dump(rec, "events", "NodeCreated", r + "/sentinel");
        c.close();
        w.close();
        emit(obj("step", "closed", "ok", true));
    }

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        String server = args[1];
        String root = args[2];
        String proxy = args.length > 3 ? args[3] : null;
        switch (scenario) {
            case "ops": ops(server, root); break;
            case "watches": watches(server, root); break;
            case "mixed_watch": mixedWatch(server, root); break;
            case "reconnect": reconnect(server, root, proxy, false); break;
            case "reconnect_persistent": reconnect(server, root, proxy, true); break;
            default: throw new IllegalArgumentException("unknown scenario " + scenario);
        }
        System.exit(0);
    }
}
