DROP TABLE test_sign_ins;
