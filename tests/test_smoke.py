def test_signup_then_me_names_the_user(auth):
    assert auth.signup().status_code == 303
    assert auth.me()["user"]["name"] == "Ada Lovelace"
