/*
 * SSE-KMS under the key of the lake domain an object belongs to, for every
 * object Spark's S3A connector writes to the lake.
 *
 * S3A's encryption settings are per bucket, and one lake bucket holds every
 * domain. S3A adds this interceptor to its S3 client (fs.s3a.audit.execution.interceptors)
 * and passes it the file system's configuration. For each PutObject,
 * CreateMultipartUpload and CopyObject under the lake prefix, it names the
 * object's domain key, as delta-rs writes do with the domain's storage options:
 *
 *   <prefix>/<domain>/<dataset>/v<N>/...        the domain of a dataset
 *   <prefix>/views/<domain>.<name>/v<N>/...     the domain of a view
 *   <prefix>/landing/<domain>/...               the domain of a landed file
 *
 * Settings (per bucket through S3A's fs.s3a.bucket.<bucket>. prefix):
 *   fs.s3a.lakegate.prefix              the lake's key prefix inside the bucket ("" for none)
 *   fs.s3a.lakegate.kms.<domain>        the domain's key id, when known
 *   fs.s3a.lakegate.kms.alias-prefix    otherwise the key alias prefix + domain (alias/lakegate/)
 * Objects outside the lake prefix keep what S3A's own encryption settings say.
 */
package io.lakegate.s3a;

import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configurable;
import org.apache.hadoop.conf.Configuration;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.s3.model.CopyObjectRequest;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;

public final class DomainKeyInterceptor implements ExecutionInterceptor, Configurable {
    public static final String PREFIX = "fs.s3a.lakegate.prefix";
    public static final String KEY = "fs.s3a.lakegate.kms.";
    public static final String ALIAS_PREFIX = "fs.s3a.lakegate.kms.alias-prefix";

    private Configuration conf;
    private String prefix = "";
    private String aliasPrefix = "alias/lakegate/";
    private final Map<String, String> keys = new HashMap<>();

    @Override
    public void setConf(Configuration configuration) {
        conf = configuration;
        String p = configuration.getTrimmed(PREFIX, "");
        prefix = p.isEmpty() ? "" : (p.endsWith("/") ? p : p + "/");
        aliasPrefix = configuration.getTrimmed(ALIAS_PREFIX, aliasPrefix);
        for (Map.Entry<String, String> e : configuration.getPropsWithPrefix(KEY).entrySet()) {
            if (!e.getKey().equals("alias-prefix") && !e.getValue().trim().isEmpty()) {
                keys.put(e.getKey(), e.getValue().trim());
            }
        }
    }

    @Override
    public Configuration getConf() {
        return conf;
    }

    /** The domain of an object key, or null outside the lake. */
    static String domainOf(String prefix, String objectKey) {
        if (objectKey == null || !objectKey.startsWith(prefix)) {
            return null;
        }
        String[] parts = objectKey.substring(prefix.length()).split("/", 3);
        if (parts.length < 2 || parts[0].isEmpty()) {
            return null;
        }
        if (parts[0].equals("views")) {
            int dot = parts[1].indexOf('.');
            return dot > 0 ? parts[1].substring(0, dot) : null;
        }
        if (parts[0].equals("landing")) {
            return parts[1].isEmpty() ? null : parts[1];
        }
        return parts[0];
    }

    String keyFor(String objectKey) {
        String domain = domainOf(prefix, objectKey);
        if (domain == null) {
            return null;
        }
        String key = keys.get(domain);
        return key != null ? key : aliasPrefix + domain;
    }

    @Override
    public SdkRequest modifyRequest(Context.ModifyRequest context, ExecutionAttributes attributes) {
        SdkRequest request = context.request();
        if (request instanceof PutObjectRequest) {
            PutObjectRequest put = (PutObjectRequest) request;
            String key = keyFor(put.key());
            if (key != null) {
                return put.toBuilder().serverSideEncryption(ServerSideEncryption.AWS_KMS)
                        .ssekmsKeyId(key).bucketKeyEnabled(true).build();
            }
        } else if (request instanceof CreateMultipartUploadRequest) {
            CreateMultipartUploadRequest upload = (CreateMultipartUploadRequest) request;
            String key = keyFor(upload.key());
            if (key != null) {
                return upload.toBuilder().serverSideEncryption(ServerSideEncryption.AWS_KMS)
                        .ssekmsKeyId(key).bucketKeyEnabled(true).build();
            }
        } else if (request instanceof CopyObjectRequest) {
            CopyObjectRequest copy = (CopyObjectRequest) request;
            String key = keyFor(copy.destinationKey());
            if (key != null) {
                return copy.toBuilder().serverSideEncryption(ServerSideEncryption.AWS_KMS)
                        .ssekmsKeyId(key).bucketKeyEnabled(true).build();
            }
        }
        return request;
    }
}
