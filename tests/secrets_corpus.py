"""Every shape of secret that must never reach an output (issue 12): (name, value, secret).

``secret`` is a distinctive string that occurs in ``value`` and nowhere else;
a test places ``name=value`` wherever a run can carry it and greps every
output for ``secret``.  Names of the value shapes do not look secret, so only
the value's shape can hide them.
"""
PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1S3cr3tValue20\nAAAA\n-----END OPENSSH PRIVATE KEY-----'

BY_NAME = [                     # the value alone is harmless-looking: its name must hide it
    ('SSHPASS', 'S3cr3tValue01', 'S3cr3tValue01'),
    ('MYSQL_PWD', 'S3cr3tValue02', 'S3cr3tValue02'),
    ('GH_PAT', 'S3cr3tValue03', 'S3cr3tValue03'),
    ('AUTH', 'Bearer S3cr3tValue04', 'S3cr3tValue04'),
    ('GITHUB_TOKEN', 'S3cr3tValue05', 'S3cr3tValue05'),
    ('AWS_SECRET_ACCESS_KEY', 'S3cr3tValue06', 'S3cr3tValue06'),
    ('MY_API_KEY', 'S3cr3tValue07', 'S3cr3tValue07'),
    ('DB_PASSWORD', 'S3cr3tValue08', 'S3cr3tValue08'),
    ('SESSION_COOKIE', 'S3cr3tValue09', 'S3cr3tValue09'),
    ('apiToken', 'S3cr3tValue10', 'S3cr3tValue10'),
    ('GOOGLE_CREDENTIALS', 'S3cr3tValue11', 'S3cr3tValue11'),
]
BY_VALUE = [                    # under harmless names: the value's shape must give it away
    ('DATABASE_URL', 'postgres://admin:S3cr3tValue12@db.example:5432/app', 'S3cr3tValue12'),
    ('PIP_INDEX_URL', 'https://user:S3cr3tValue13@pypi.example/simple', 'S3cr3tValue13'),
    ('HTTP_PROXY', 'http://proxy:S3cr3tValue14@proxy.example:3128', 'S3cr3tValue14'),
    ('CLONE_URL', 'https://S3cr3tValue15@github.com/org/repo.git', 'S3cr3tValue15'),
    ('APP_OPTS', '--password=S3cr3tValue16 --verbose', 'S3cr3tValue16'),
    ('APP_ARGS', '--api-key S3cr3tValue17 --retries 3', 'S3cr3tValue17'),
    ('RFM_OPTS', '-S Check.password=S3cr3tValue18 -r', 'S3cr3tValue18'),
    ('CURL_HEADER', 'Authorization: Bearer S3cr3tValue19.eyJzdWIi', 'S3cr3tValue19'),
    ('SSL_BUNDLE', PEM, 'S3cr3tValue20'),
    ('COMMENT', 'run by ci token=S3cr3tValue21 today', 'S3cr3tValue21'),
    ('CI_NOTE', 'ghp_S3cr3tValue22AAAAAAAAAAAAAAAAAAAAAAA', 'S3cr3tValue22'),
    ('CI_NOTE2', 'github_pat_11S3cr3tValue23_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 'S3cr3tValue23'),
    ('CLOUD_ID', 'AKIAS3CR3TVALUE24XYZ', 'S3CR3TVALUE24'),
    ('DSN', 'Server=db;Uid=app;Pwd=S3cr3tValue25;Database=x', 'S3cr3tValue25'),
    ('JSON_CFG', '{"password": "S3cr3tValue26", "user": "me"}', 'S3cr3tValue26'),
    ('BASIC_HDR', 'Basic S3cr3tValue27==', 'S3cr3tValue27'),
    ('TOOL_FLAGS', '--token S3cr3tValue28', 'S3cr3tValue28'),
    ('GITLAB_NOTE', 'glpat-S3cr3tValue29xyzxyz', 'S3cr3tValue29'),
]
CORPUS = BY_NAME + BY_VALUE
SECRETS = [secret for _name, _value, secret in CORPUS]
# harmless text next to the secrets: it must come through as it was
KEPT = [('OMP_NUM_THREADS', '4'), ('PWD', '/work/stage'), ('TOKENIZERS_PARALLELISM', 'false'),
        ('DOCS_URL', 'https://docs.example/page?x=1'), ('SSH_HOST', 'login.example')]
