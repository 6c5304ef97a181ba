// The TLS setup spark-dependencies' Elasticsearch connector makes from the JVM properties the
// dependency-links script exports (tests/logs_traces/test_dependencies_job.py): a key store of the
// connector's default type JKS, loaded from javax.net.ssl.trustStore with its password, as the only
// trust. Ref: jaegertracing/spark-dependencies@v0.7.2 ElasticsearchDependenciesJob.java
// (javax.net.ssl.trustStore/-Password -> es.net.ssl.truststore.location/.pass); elasticsearch-hadoop's
// es.net.ssl.keystore.type (default JKS). Prints the HTTP status of args[0].
import java.io.FileInputStream;
import java.net.URL;
import java.security.KeyStore;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class TruststoreProbe {
    public static void main(String[] args) throws Exception {
        KeyStore store = KeyStore.getInstance("JKS");
        try (FileInputStream in = new FileInputStream(System.getProperty("javax.net.ssl.trustStore"))) {
            store.load(in, System.getProperty("javax.net.ssl.trustStorePassword").toCharArray());
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        HttpsURLConnection connection = (HttpsURLConnection) new URL(args[0]).openConnection();
        connection.setSSLSocketFactory(context.getSocketFactory());
        System.out.println("HTTP " + connection.getResponseCode());
    }
}
