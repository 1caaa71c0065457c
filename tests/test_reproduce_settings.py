"`aigfd reproduce` compares a fresh demo with a published file written before the corpus options were recorded."
from aigfd.repro import settings_differences

def test_settings_recorded_later_take_their_earlier_value():
    old = dict(settings=dict(img_size=64, protocol='paper'))  # published before pretext_data/jitter/pair_cameras existed
    new = dict(settings=dict(img_size=64, protocol='paper', pretext_data='minibench', jitter=False, pair_cameras=False))
    assert settings_differences(new, old) == {}
    assert settings_differences(dict(settings={**new['settings'], 'jitter': True}), old) == {'jitter': (True, False)}
    assert settings_differences(dict(settings={**new['settings'], 'pretext_data': 'both'}), old) == {'pretext_data': ('both', 'minibench')}
    assert settings_differences(dict(settings={**new['settings'], 'img_size': 96}), old) == {'img_size': (96, 64)}
