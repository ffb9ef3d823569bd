"""The Fast DDS profile files match their Fast DDS major version; the right one is chosen."""

import pathlib
import xml.etree.ElementTree as ET

import pytest

from edgeserve_ros.ros.dds_profile import profile_env, profile_path, profile_variable

CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'config'
NS = '{http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles}'


@pytest.mark.parametrize('name', ['fastdds', 'fastdds_constrained'])
def test_each_profile_has_a_2x_file_and_a_3x_twin(name):
    two, three = (ET.parse(CONFIG / f'{name}{s}.xml').getroot() for s in ('', '3'))
    assert two.find(f'.//{NS}heartbeatPeriod') is not None  # Fast DDS 2.x spelling
    assert three.find(f'.//{NS}heartbeat_period') is not None  # 3.x spelling
    assert three.find(f'.//{NS}heartbeatPeriod') is None


def test_the_distro_picks_file_and_variable():
    assert profile_path('/c', distro='jazzy') == '/c/fastdds.xml'
    assert profile_path('/c', 'fastdds_constrained', 'kilted') == '/c/fastdds_constrained3.xml'
    assert profile_variable('humble') == 'FASTRTPS_DEFAULT_PROFILES_FILE'
    assert profile_env('/c', distro='rolling') == {
        'FASTDDS_DEFAULT_PROFILES_FILE': '/c/fastdds3.xml'}


def test_the_cli_prints_what_scripts_dev_exports(capsys, monkeypatch):
    from edgeserve_ros.ros.dds_profile import main
    monkeypatch.setenv('ROS_DISTRO', 'jazzy')
    assert main(['/c']) == 0
    assert capsys.readouterr().out == 'FASTRTPS_DEFAULT_PROFILES_FILE=/c/fastdds.xml\n'
    monkeypatch.setenv('ROS_DISTRO', 'kilted')
    assert main(['/c']) == 0
    assert capsys.readouterr().out == 'FASTDDS_DEFAULT_PROFILES_FILE=/c/fastdds3.xml\n'
    assert main([]) == 2
