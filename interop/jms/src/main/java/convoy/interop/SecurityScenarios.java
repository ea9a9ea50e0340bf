package convoy.interop;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.qpid.jms.JmsConnectionFactory;

/**
 * Security scenarios (run through {@link Scenario}): the URL carries TLS (amqps, transport.trustStore*,
 * transport.keyStore* for a client certificate) and the SASL mechanism (amqp.saslMechanisms); the user
 * and password come from CONVOY_JMS_USER and CONVOY_JMS_PASSWORD, so that they never appear in a result.
 */
final class SecurityScenarios {
    private SecurityScenarios() {}

    /** Log in and round-trip a message on orders.jms. */
    static void login(String url) throws Exception {
        Connection c = connect(url);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            roundTrip(s, s.createQueue("orders.jms"), "hello");
        } finally {
            c.close();
        }
    }

    /** The login must fail with a JMSSecurityException. */
    static void refused(String url) throws Exception {
        try {
            Connection c = connect(url);
            c.close();
        } catch (JMSSecurityException e) {
            Scenario.details.put("exception", e.getClass().getSimpleName());
            Scenario.details.put("message", String.valueOf(e.getMessage()));
            return;
        }
        throw new Scenario.Failure("the login was accepted, expected a JMSSecurityException");
    }

    /**
     * A consumer and a producer on billing.jms are refused with JMSSecurityException (the broker's
     * amqp:unauthorized-access); an anonymous producer's send there fails the same way; then sends
     * to orders.* still work on the same connection and session.
     */
    static void authorization(String url) throws Exception {
        Connection c = connect(url);
        try {
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            Queue denied = s.createQueue("billing.jms");
            Scenario.details.put("consumer", refusal(() -> s.createConsumer(denied).close()));
            Scenario.details.put("producer", refusal(() -> s.createProducer(denied).close()));
            MessageProducer anonymous = s.createProducer(null);
            Scenario.details.put("anonymousSend", refusal(() -> anonymous.send(denied, s.createTextMessage("no"))));
            anonymous.send(s.createQueue("orders.jms.relayed"), s.createTextMessage("yes"));
            roundTrip(s, s.createQueue("orders.jms.after"), "still working");
        } finally {
            c.close();
        }
    }

    interface JmsAction {
        void run() throws JMSException;
    }

    static Map<String, String> refusal(JmsAction action) throws Scenario.Failure {
        try {
            action.run();
        } catch (JMSSecurityException e) {
            Map<String, String> seen = new LinkedHashMap<>();
            seen.put("exception", e.getClass().getSimpleName());
            seen.put("message", String.valueOf(e.getMessage()));
            return seen;
        } catch (JMSException e) {
            throw new Scenario.Failure("expected a JMSSecurityException, got " + Scenario.describe(e));
        }
        throw new Scenario.Failure("the action was allowed, expected a JMSSecurityException");
    }

    static void roundTrip(Session s, Queue q, String body) throws Exception {
        MessageProducer p = s.createProducer(q);
        MessageConsumer consumer = s.createConsumer(q);
        p.send(s.createTextMessage(body));
        Message m = consumer.receive(Scenario.RECEIVE_TIMEOUT_MS);
        if (!(m instanceof TextMessage t) || !body.equals(t.getText())) {
            throw new Scenario.Failure("round trip on " + q.getQueueName() + ": got " + m);
        }
        p.close();
        consumer.close();
    }

    static Connection connect(String base) throws JMSException {
        String url = base + (base.contains("?") ? "&" : "?") + Scenario.CLIENT_OPTIONS;
        Scenario.details.putIfAbsent("url", url);
        Scenario.step("connect " + url);
        String user = System.getenv("CONVOY_JMS_USER");
        JmsConnectionFactory factory = new JmsConnectionFactory(url);
        Connection c = user == null ? factory.createConnection() : factory.createConnection(user, System.getenv("CONVOY_JMS_PASSWORD"));
        c.start();
        return c;
    }
}
