package convoy.interop;

import static convoy.interop.Scenario.QUIET_MS;
import static convoy.interop.Scenario.RECEIVE_TIMEOUT_MS;
import static convoy.interop.Scenario.details;
import static convoy.interop.Scenario.expectEq;
import static convoy.interop.Scenario.fail;
import static convoy.interop.Scenario.record;
import static convoy.interop.Scenario.step;

import jakarta.jms.Connection;
import jakarta.jms.DeliveryMode;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import jakarta.jms.TransactionRolledBackException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Transacted sessions (run through {@link Scenario}): Qpid JMS declares a transaction on a coordinator
 * link, sends and acknowledges with transactional-state, and commits or rolls back with a discharge
 * (AMQP 1.0 section 4). Each scenario records what the application saw; the test checks it.
 */
final class TransactionScenarios {
    private TransactionScenarios() {}

    /** Five sends in a transaction: nobody sees them before commit; after, all five in order. */
    static void commitSends(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            Queue q = tx.createQueue("jms.tx.sends");
            step("send 5 in a transaction");
            MessageProducer p = tx.createProducer(q);
            for (int i = 0; i < 5; i++) p.send(text(tx, "s" + i, i));
            Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer consumer = plain.createConsumer(q);
            step("nothing visible before commit");
            Message early = consumer.receive(QUIET_MS);
            details.put("visibleBeforeCommit", early == null ? null : Scenario.summary(early));
            step("commit");
            tx.commit();
            details.put("received", receive(consumer, 5, "after commit"));
            details.put("extra", summaryOrNull(consumer.receive(QUIET_MS / 2)));
        } finally {
            c.close();
        }
    }

    /** Three sends rolled back, then two committed: only the two arrive. */
    static void rollbackSends(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            Queue q = tx.createQueue("jms.tx.rollback-sends");
            MessageProducer p = tx.createProducer(q);
            step("send 3, roll back");
            for (int i = 0; i < 3; i++) p.send(text(tx, "lost" + i, i));
            tx.rollback();
            step("send 2, commit");
            for (int i = 0; i < 2; i++) p.send(text(tx, "kept" + i, 10 + i));
            tx.commit();
            receiveAfterwards(c, q, 2, "received", "extra");
        } finally {
            c.close();
        }
    }

    /**
     * Six messages queued; a transacted consumer receives three and commits, then the session closes. A
     * second consumer gets exactly the other three, each delivered for the first time or as a returned
     * prefetch (the three committed ones never come back).
     */
    static void commitReceives(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Queue q = preload(c, "jms.tx.commit-receives", 6, null);
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            MessageConsumer consumer = tx.createConsumer(q);
            step("receive 3 in a transaction, commit");
            details.put("inTransaction", receive(consumer, 3, "transacted consumer"));
            tx.commit();
            tx.close();
            receiveAfterwards(c, q, 3, "afterCommit", "extra");
        } finally {
            c.close();
        }
    }

    /**
     * Group G (G1..G5) queued. A transacted consumer receives G1..G3 and rolls back: it receives the
     * group again from G1, in order, the three it had seen marked redelivered with JMSXDeliveryCount 2,
     * then commits. A plain consumer attached meanwhile gets nothing of the group.
     */
    static void rollbackReceives(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Queue q = preload(c, "jms.tx.rollback-receives", 5, "G");
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            MessageConsumer consumer = tx.createConsumer(q);
            step("receive 3 in a transaction");
            details.put("beforeRollback", receive(consumer, 3, "before rollback"));
            Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            MessageConsumer other = plain.createConsumer(q);
            step("roll back");
            tx.rollback();
            details.put("afterRollback", receive(consumer, 5, "after rollback"));
            tx.commit();
            details.put("other", summaryOrNull(other.receive(QUIET_MS)));
        } finally {
            c.close();
        }
    }

    /**
     * Consume, transform, produce: each transaction takes two messages from jms.tx.in and sends one
     * derived message per input to jms.tx.out. The first commits, the second rolls back: jms.tx.out
     * holds the first pair only, and jms.tx.in gives the second pair again, redelivered.
     */
    static void mixed(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Queue in = preload(c, "jms.tx.in", 4, null);
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            Queue out = tx.createQueue("jms.tx.out");
            MessageConsumer consumer = tx.createConsumer(in);
            MessageProducer producer = tx.createProducer(out);
            step("first transaction: commit");
            transform(tx, consumer, producer);
            tx.commit();
            step("second transaction: roll back");
            transform(tx, consumer, producer);
            tx.rollback();
            step("again after the rollback, and commit");
            details.put("inAfterRollback", receive(consumer, 2, "jms.tx.in after the rollback"));
            tx.commit();
            tx.close();
            receiveAfterwards(c, out, 2, "out", "extraOut");
        } finally {
            c.close();
        }
    }

    /**
     * Before a broker restart or kill -9: five persistent messages committed to jms.tx.durable.sent and
     * three more sent in a transaction left open; on jms.tx.durable.acked, four queued, two received and
     * committed, a third received in a transaction left open. Reports ok once all of that is done, then
     * keeps the connection and its open transaction until the broker goes away.
     */
    static void durablePrepare(String url) throws Exception {
        Connection c = Scenario.connect(url, "jms.prefetchPolicy.all=1");
        Queue acked = preload(c, "jms.tx.durable.acked", 4, null);
        Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
        MessageProducer producer = tx.createProducer(tx.createQueue("jms.tx.durable.sent"));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        step("commit 5 persistent sends");
        for (int i = 0; i < 5; i++) producer.send(text(tx, "committed" + i, i));
        tx.commit();
        step("commit 2 receives");
        MessageConsumer consumer = tx.createConsumer(acked);
        details.put("committedReceives", receive(consumer, 2, "jms.tx.durable.acked"));
        tx.commit();
        step("leave a transaction open: 3 sends and 1 receive");
        for (int i = 0; i < 3; i++) producer.send(text(tx, "uncommitted" + i, 10 + i));
        details.put("uncommittedReceive", receive(consumer, 1, "jms.tx.durable.acked"));
        Scenario.emit(true, null);
        c.setExceptionListener(e -> Runtime.getRuntime().halt(0));
        Thread.sleep(Scenario.HARD_TIMEOUT_MS);
    }

    /** After the restart: what jms.tx.durable.sent and jms.tx.durable.acked hold. */
    static void durableCheck(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            details.put("sent", drain(s.createConsumer(s.createQueue("jms.tx.durable.sent"))));
            details.put("acked", drain(s.createConsumer(s.createQueue("jms.tx.durable.acked"))));
        } finally {
            c.close();
        }
    }

    /**
     * Run against a broker with maxTransactionOperations 3: four receives in one transaction make the
     * broker refuse the commit, which Qpid JMS reports as TransactionRolledBackException. The four
     * messages come again, redelivered.
     */
    static void commitRefused(String url) throws Exception {
        Connection c = Scenario.connect(url, null);
        try {
            Queue q = preload(c, "jms.tx.refused", 4, null);
            Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
            MessageConsumer consumer = tx.createConsumer(q);
            details.put("first", receive(consumer, 4, "before the commit"));
            step("commit");
            try {
                tx.commit();
                details.put("committed", true);
            } catch (TransactionRolledBackException e) {
                details.put("rolledBack", e.getMessage());
            }
            details.put("again", receive(consumer, 4, "after the refused commit"));
            tx.rollback();
        } finally {
            c.close();
        }
    }

    // ------------------------------------------------------------------ helpers

    static TextMessage text(Session s, String body, int n) throws JMSException {
        TextMessage m = s.createTextMessage(body);
        m.setIntProperty("n", n);
        return m;
    }

    /** Sends `count` persistent messages m0.. (with JMSXGroupID `group` when given) outside any transaction. */
    static Queue preload(Connection c, String name, int count, String group) throws JMSException {
        step("preload " + name);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        for (int i = 0; i < count; i++) {
            TextMessage m = text(s, group == null ? "m" + i : group + (i + 1), i);
            if (group != null) m.setStringProperty("JMSXGroupID", group);
            p.send(m);
        }
        s.close();
        return q;
    }

    static void transform(Session tx, MessageConsumer consumer, MessageProducer producer) throws Exception {
        for (Map<String, Object> r : receive(consumer, 2, "jms.tx.in")) {
            producer.send(text(tx, "done-" + r.get("body"), (Integer) r.get("n")));
        }
    }

    static List<Map<String, Object>> receive(MessageConsumer consumer, int count, String what) throws Exception {
        List<String> problems = new ArrayList<>();
        List<Map<String, Object>> got = Scenario.receiveAll(consumer, count, what, problems);
        fail(what, problems);
        return got;
    }

    /** On a new plain session: `count` messages from `q` into details[key], then whatever else arrives into details[extraKey]. */
    static void receiveAfterwards(Connection c, Queue q, int count, String key, String extraKey) throws Exception {
        MessageConsumer consumer = c.createSession(false, Session.AUTO_ACKNOWLEDGE).createConsumer(q);
        details.put(key, receive(consumer, count, key));
        details.put(extraKey, summaryOrNull(consumer.receive(QUIET_MS)));
    }

    /** Everything the consumer gets until it is quiet for QUIET_MS. */
    static List<Map<String, Object>> drain(MessageConsumer consumer) throws JMSException {
        List<Map<String, Object>> got = new ArrayList<>();
        for (Message m = consumer.receive(RECEIVE_TIMEOUT_MS); m != null; m = consumer.receive(QUIET_MS)) got.add(record(m));
        return got;
    }

    static Object summaryOrNull(Message m) {
        return m == null ? null : Scenario.summary(m);
    }
}
